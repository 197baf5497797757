"""Shared fixtures: paths, small configs, a fixed thread count for the 2-core CI machine."""

import socket
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"
TEST_DATA = Path(__file__).resolve().parent / "data"

torch.set_num_threads(2)

# How the original code and its forks saved network weights: a state dict -> the saved object.
RELEASED_LAYOUTS = {
    "fullmodel_with_loss": lambda s: {
        **{f"model.{k}": v for k, v in s.items()},
        "loss.criterion.weight": torch.ones(19),
    },
    "checkpoint_pth_tar": lambda s: {
        "epoch": 3,
        "best_mIoU": 0.5,
        "state_dict": {f"model.{k}": v for k, v in s.items()},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0, 1]}]},
    },
    "dataparallel": lambda s: {f"module.{k}": v for k, v in s.items()},
    "dataparallel_fullmodel": lambda s: {f"module.model.{k}": v for k, v in s.items()},
    "torch04_no_num_batches_tracked": lambda s: {
        f"model.{k}": v for k, v in s.items() if not k.endswith("num_batches_tracked")
    },
    "bare": lambda s: dict(s),
}


def free_port():
    """A TCP port nobody listens on now (for torchrun's --master_port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def repo():
    return REPO


@pytest.fixture(scope="session")
def trained_tiny_run(tmp_path_factory):
    """The folder of a 2-epoch tools/train.py run of the tiny model (4 batches of 2 per epoch,
    PRINT_FREQ 1), made once per session: output/, log/ and tiny.yaml."""
    import train
    from tiny_run import write_tiny_run

    folder = tmp_path_factory.mktemp("trained_tiny_run")
    cfg_file = write_tiny_run(folder, END_EPOCH=2)
    assert train.main(["--cfg", str(cfg_file), "--device", "cpu"]) == 0
    return folder
