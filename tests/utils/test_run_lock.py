"""The run folder lock: one training job per folder; a killed holder leaves no stale lock."""

import os
import subprocess
import sys

import pytest

from helpers.paths import REPO
from helpers.tiny_run import output_dir, write_tiny_run
from helpers.tools import load_tool
from utils.cli import run_tool
from utils.errors import ConfigError
from utils.run_lock import LOCK_FILE, lock_run_folder

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: nothing is locked")


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    lock = lock_run_folder(tmp_path / "run")
    with pytest.raises(ConfigError, match=rf"run is in use .*\(process {os.getpid()} on "):
        lock_run_folder(tmp_path / "run")
    lock.close()
    lock_run_folder(tmp_path / "run").close()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from utils.run_lock import lock_run_folder; "
         f"lock = lock_run_folder(__import__('pathlib').Path({str(tmp_path)!r})); "
         "print('held', flush=True); time.sleep(600)"],
        env={**os.environ, "PYTHONPATH": str(REPO / "lib")}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=f"process {holder.pid} on "):
            lock_run_folder(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    lock_run_folder(tmp_path).close()


def test_train_refuses_a_folder_another_job_trains_in(tmp_path, capsys):
    cfg_file = write_tiny_run(tmp_path)
    lock = lock_run_folder(output_dir(tmp_path))
    train = load_tool("train")
    argv = ["--cfg", str(cfg_file), "--device", "cpu", "AUTO_RESUME", "True"]
    assert run_tool(train.main, argv) == 2
    assert "is in use by another training job" in capsys.readouterr().err
    assert sorted(p.name for p in output_dir(tmp_path).iterdir()) == [LOCK_FILE]
    lock.close()
    assert run_tool(train.main, argv) == 0


def test_a_file_system_without_locks_trains_unlocked(tmp_path, monkeypatch):
    import fcntl

    def no_locks(*args):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    lock_run_folder(tmp_path).close()
