"""Running the scripts of tools/ from tests: as modules, or as processes (torchrun)."""

import importlib.util
import socket
import sys

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
