"""Shared fixtures: paths, small configs, a fixed thread count for the 2-core CI machine."""

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
TEST_DATA = Path(__file__).resolve().parent / "data"

torch.set_num_threads(2)


@pytest.fixture
def repo():
    return REPO
