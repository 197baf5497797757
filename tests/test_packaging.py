"""pyproject.toml builds (so `pip install -e .` works): it installs requirements.txt's
dependencies and no importable package; CI's constraints pin every requirement."""

import re
import shutil
import subprocess
import sys

from helpers.paths import REPO


def requirement_names(path):
    lines = path.read_text().splitlines()
    return [re.split(r"[<>=!~ ]", line)[0].lower() for line in lines if line and line[0] != "#"]


def test_the_project_metadata_builds_with_the_requirements(tmp_path):
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    script = (
        "from setuptools import build_meta; import sys; "
        "print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))"
    )
    out = tmp_path / "meta"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(out)], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    dist_info = out / done.stdout.strip().splitlines()[-1]
    metadata = (dist_info / "METADATA").read_text()
    required = [
        line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist")
    ]
    assert [re.split(r"[<>=!~ ]", r)[0].lower() for r in required] == requirement_names(
        REPO / "requirements.txt"
    )
    assert "torch==2.13.0" in required
    assert (
        not (dist_info / "top_level.txt").is_file()
        or not (dist_info / "top_level.txt").read_text().strip()
    )


def test_ci_constraints_pin_every_requirement():
    pinned = dict(
        line.lower().split("==")
        for line in (REPO / ".ci/constraints.txt").read_text().splitlines()
        if line and line[0] != "#"
    )
    for name in (
        "requirements.txt",
        "requirements-dev.txt",
        "requirements-deploy.txt",
        "requirements-data.txt",
    ):
        assert set(requirement_names(REPO / name)) <= set(pinned), name
    assert pinned["torch"] == "2.13.0"
