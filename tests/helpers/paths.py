"""Where the repository, its experiment YAMLs and the tests' small data files are."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = REPO / "experiments"
TEST_DATA = REPO / "tests" / "data"
