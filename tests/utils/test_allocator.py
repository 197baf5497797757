"""glibc's allocator options, and that every tool sets them at start-up."""

import ast
import os
import platform
import subprocess
import sys

import pytest
import torch

from helpers.paths import REPO
from utils.allocator import set_allocator_options


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_allocator_options_are_set_on_glibc_and_repeatable():
    assert set_allocator_options() is True
    assert set_allocator_options() is True
    assert torch.ones(64, 1024, 1024).sum().item() == 64 * 1024 * 1024


def start_up_calls(path):
    """Names of the functions called under `if __name__ == "__main__":` and in `main()`."""
    start_up = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'":
            start_up.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name == "main":
            start_up.append(node)
    return {
        ast.unparse(call.func)
        for node in start_up
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
    }


TOOLS = sorted(p for p in (REPO / "tools").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("tool", TOOLS, ids=[p.stem for p in TOOLS])
def test_every_tool_sets_the_allocator_options_at_start_up(tool):
    assert "set_allocator_options" in start_up_calls(tool)


def test_the_allocator_module_does_not_import_torch():
    code = "import sys, utils.allocator; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "lib")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "False", result.stderr
