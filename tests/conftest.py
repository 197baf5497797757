"""Shared fixtures (the code behind them lives in tests/helpers/) and a fixed thread count for
the 2-core CI machine."""

import pytest
import torch

from helpers.paths import REPO
from helpers.tiny_run import write_tiny_run
from helpers.tools import load_tool

torch.set_num_threads(2)


@pytest.fixture
def repo():
    return REPO


@pytest.fixture(scope="session")
def trained_tiny_run(tmp_path_factory):
    """The folder of a 2-epoch tools/train.py run of the tiny model (4 batches of 2 per epoch,
    PRINT_FREQ 1), made once per session: output/, log/ and tiny.yaml."""
    folder = tmp_path_factory.mktemp("trained_tiny_run")
    cfg_file = write_tiny_run(folder, END_EPOCH=2)
    assert load_tool("train").main(["--cfg", str(cfg_file), "--device", "cpu"]) == 0
    return folder
