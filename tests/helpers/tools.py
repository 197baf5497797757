"""Running the scripts of tools/ from tests: as modules, or as processes (torchrun)."""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.paths import REPO

TOOLS = REPO / "tools"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_tool(name):
    """The module of tools/<name>.py, loaded once as `tool_<name>`. tools/ stays off sys.path
    (its test.py would shadow the standard library's `test`); tools/_init_paths.py is loaded
    first under its own name, so the tool's `import _init_paths` finds it in sys.modules."""
    key = f"tool_{name}"
    if key not in sys.modules:
        if "_init_paths" not in sys.modules:
            _load("_init_paths", TOOLS / "_init_paths.py")
        _load(key, TOOLS / f"{name}.py")
    return sys.modules[key]


def free_port():
    """A TCP port nobody listens on now (for torchrun's --master_port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    """Whether process `pid` exists and is not a zombie (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running_processes(marker):
    """Pids of the live processes whose command line contains `marker` (Linux)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            named = marker.encode() in (proc / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        if named and alive(proc.name):
            pids.append(int(proc.name))
    return pids


def kill_survivors(find, grace=10):
    """Poll `find()` (pids of live processes) until it is empty or `grace` seconds have passed;
    the pids still running then are killed with SIGKILL and returned."""
    deadline = time.monotonic() + grace
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def run_leaving_nothing(command, marker, env, timeout, grace=10):
    """subprocess.run(command) with its output read back from files, so that a process left
    behind cannot hold the caller; then assert that no process whose command line contains
    `marker` (DataLoader workers carry their parent's command line) outlives the run by more
    than `grace` seconds (those that do are killed)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        result = subprocess.run(command, env=env, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        result.stdout, result.stderr = out.read(), err.read()
    left = kill_survivors(lambda: running_processes(marker), grace)
    assert not left, f"processes {left} outlived {command}"
    return result
