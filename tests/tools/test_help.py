"""Every tool answers --help with its docstring's examples as written, also without the
optional extras (onnx, onnxruntime, pycocotools) installed."""

import ast
import os
import subprocess
import sys

import pytest

from helpers.paths import REPO

TOOLS = sorted(p for p in (REPO / "tools").glob("*.py") if not p.name.startswith("_"))
OPTIONAL = ("onnx", "onnxruntime", "pycocotools")


@pytest.fixture(scope="module")
def without_extras(tmp_path_factory):
    """A PYTHONPATH entry whose modules shadow the optional extras and fail to import."""
    folder = tmp_path_factory.mktemp("no_extras")
    for name in OPTIONAL:
        (folder / f"{name}.py").write_text(f"raise ImportError('{name} is not installed')\n")
    return folder


@pytest.mark.parametrize("tool", TOOLS, ids=lambda p: p.name)
def test_help_works_without_the_optional_extras(tool, without_extras):
    env = {**os.environ, "PYTHONPATH": str(without_extras)}
    done = subprocess.run(
        [sys.executable, str(tool), "--help"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    doc = ast.get_docstring(ast.parse(tool.read_text(encoding="utf-8")), clean=False)
    # the first indented line: a command example, or a table of modes (benchmark.py)
    example = next(line for line in doc.splitlines() if line.startswith("  "))
    assert example in done.stdout.splitlines()  # indentation and line break kept
    # examples continued on the next line keep their backslash and line break
    source = tool.read_text(encoding="utf-8").split('"""')[1]  # the docstring as written
    continued = [line for line in source.splitlines() if line.endswith(" \\")]
    assert set(continued) <= set(done.stdout.splitlines())
    assert "--flag_name" in done.stdout
