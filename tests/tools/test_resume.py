"""Kill -9 and resume: a run killed at any point and continued with AUTO_RESUME True ends with
the weights of the uninterrupted run, bit for bit: in one process with DataLoader workers, and
under torchrun with 2 gloo processes (HRNet + HANet, whose dropout and position noise are drawn
per step), killed mid-epoch, during validation and while a checkpoint is being written; under
torchrun --max-restarts the job recovers by itself. No process of a run outlives it.
HRNET_KILL_AT (utils.faults) picks the point.
"""

import os
import re
import sys

import pytest
import torch

from core.run_log import read_metrics
from helpers.paths import REPO
from helpers.tiny_run import output_dir, write_tiny_run
from helpers.tools import free_port, load_tool, run_leaving_nothing

train = load_tool("train")

ENV = {**os.environ, "PYTHONPATH": str(REPO / "lib"), "OMP_NUM_THREADS": "1"}
TRAIN = str(REPO / "tools/train.py")
HANET = ["MODEL.NAME", "seg_hrnet_hanet", "MODEL.HANET.POS_ENCODING", "True"]
# 12 images, batch 2: 6 steps per epoch, a checkpoint every 2 steps, 3 validation images.
ONE_PROCESS = {"num_train": 12, "size": 64, "END_EPOCH": 2, "CHECKPOINT_EVERY": 2}
# 8 images, 2 processes x batch 2: 2 steps per epoch, a checkpoint after every step.
TWO_PROCESSES = {"num_train": 8, "size": 64, "END_EPOCH": 2, "CHECKPOINT_EVERY": 1}
TIMEOUT = 300


def final_weights(folder):
    return torch.load(output_dir(folder) / "final_state.pth", weights_only=True)


def assert_same_weights(resumed, expected):
    assert resumed.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(resumed[key], value), key


def torchrun(cfg_file, *opts, kill_at=None, max_restarts=0):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port()}", f"--max-restarts={max_restarts}",
        TRAIN, "--cfg", str(cfg_file), "--device", "cpu", *HANET, "WORKERS", "2", *opts,
    ]  # fmt: skip
    env = {**ENV, "HRNET_KILL_AT": kill_at} if kill_at else ENV
    return run_leaving_nothing(command, str(cfg_file), env, TIMEOUT)


@pytest.fixture
def one_thread():
    """Same thread count as the subprocesses: float reductions then match bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_here(cfg_file, *opts, flags=()):
    argv = ["--cfg", str(cfg_file), "--device", "cpu", *flags, *HANET, *opts]
    assert train.main(argv) == 0


def train_losses(folder):
    """{step: logged mean training loss of the epoch so far} of a run (the last of a step)."""
    records = read_metrics(output_dir(folder) / "metrics.jsonl")
    return {r["step"]: r["loss"] for r in records if r["kind"] == "train"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The final weights and logged losses of an uninterrupted one-process run (WORKERS 2)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_here(write_tiny_run(folder, **ONE_PROCESS), "WORKERS", "2")
    finally:
        torch.set_num_threads(threads)
    return final_weights(folder), train_losses(folder)


def test_the_weights_do_not_depend_on_the_number_of_workers(tmp_path, one_thread, uninterrupted):
    train_here(write_tiny_run(tmp_path, **ONE_PROCESS), "WORKERS", "0")
    assert_same_weights(final_weights(tmp_path), uninterrupted[0])


@pytest.mark.parametrize(
    "kill_at",
    [
        "step:5",  # mid-epoch: resumes at (epoch 0, batch 4)
        pytest.param("validation:2", marks=pytest.mark.slow),  # the first validation
        pytest.param("checkpoint:3", marks=pytest.mark.slow),  # epoch 1's checkpoint file
    ],
)
def test_a_killed_run_with_workers_resumes_to_the_same_weights(
    tmp_path, one_thread, uninterrupted, kill_at
):
    cfg_file = write_tiny_run(tmp_path, **ONE_PROCESS)
    command = [sys.executable, TRAIN, "--cfg", str(cfg_file), "--device", "cpu", *HANET]
    killed = run_leaving_nothing(
        [*command, "WORKERS", "2", "AUTO_RESUME", "True"],
        str(cfg_file),
        {**ENV, "HRNET_KILL_AT": kill_at},
        TIMEOUT,
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert "training starts from scratch" in killed.stdout
    out = output_dir(tmp_path)
    assert not (out / "final_state.pth").exists()
    state = torch.load(out / "checkpoint.pth.tar", weights_only=True)  # never half-written
    assert (state["epoch"], state["iteration"]) in ((0, 2), (0, 4), (1, 0))

    # A resumed run keeps its own seed: another --seed is ignored (and logged).
    train_here(cfg_file, "WORKERS", "2", "AUTO_RESUME", "True", flags=["--seed", "7"])
    assert_same_weights(final_weights(tmp_path), uninterrupted[0])
    # The log goes on as it was: a resumed epoch's mean loss counts its steps before the kill.
    assert train_losses(tmp_path) == pytest.approx(uninterrupted[1], rel=1e-12)
    assert not list(out.glob(".*.tmp"))


@pytest.fixture(scope="module")
def uninterrupted_torchrun(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uninterrupted_torchrun")
    result = torchrun(write_tiny_run(folder, **TWO_PROCESSES))
    assert result.returncode == 0, result.stderr[-3000:]
    return final_weights(folder)


@pytest.mark.slow
def test_a_killed_torchrun_job_resumes_to_the_same_weights(tmp_path, uninterrupted_torchrun):
    """Process 1 killed mid-epoch: the job stops; the same command with AUTO_RESUME True
    continues it."""
    cfg_file = write_tiny_run(tmp_path, **TWO_PROCESSES)
    killed = torchrun(cfg_file, kill_at="step:3@1")
    assert killed.returncode != 0 and "exitcode  : -9" in killed.stderr
    assert not (output_dir(tmp_path) / "final_state.pth").exists()
    resumed = torchrun(cfg_file, "AUTO_RESUME", "True")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert re.search(r"resumed from \S+ at epoch [12]/2, iteration [1-9]", resumed.stdout)
    assert_same_weights(final_weights(tmp_path), uninterrupted_torchrun)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kill_at",
    [
        "step:3@1",  # mid-epoch
        "validation:1@1",  # epoch 1's validation
        "checkpoint:2@0",  # epoch 1's checkpoint file, being written by process 0
    ],
)
def test_torchrun_max_restarts_recovers_to_the_same_weights(
    tmp_path, uninterrupted_torchrun, kill_at
):
    """torchrun --max-restarts=1 ... AUTO_RESUME True: the killed process and its peer are
    restarted, resume from the last checkpoint and end as the uninterrupted run."""
    cfg_file = write_tiny_run(tmp_path, **TWO_PROCESSES)
    result = torchrun(cfg_file, "AUTO_RESUME", "True", kill_at=kill_at, max_restarts=1)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "exitcode: -9" in result.stderr and "resumed from" in result.stdout
    assert_same_weights(final_weights(tmp_path), uninterrupted_torchrun)
