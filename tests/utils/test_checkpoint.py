"""Atomic checkpoint writing and exact restoration of the training state."""

import random

import numpy as np
import pytest
import torch

from utils import checkpoint as ckpt


class Exploding:
    """Pickling this fails half-way through torch.save."""

    def __reduce__(self):
        raise RuntimeError("disk full")


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "checkpoint.pth.tar"
    ckpt.atomic_save({"epoch": 1}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        ckpt.atomic_save({"epoch": 2, "bad": Exploding()}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth.tar"]


def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    path = tmp_path / "checkpoint.pth.tar"
    ckpt.save_checkpoint(path, model, optimizer, epoch=3, iteration=7, best_miou=0.25)
    expected = (random.random(), np.random.rand(), torch.rand(1))

    data = torch.load(path, weights_only=True)
    assert sorted(data["state_dict"]) == sorted(f"model.{k}" for k in model.state_dict())

    random.random(), np.random.rand(), torch.rand(1)  # move every generator on
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    other_optimizer = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    epoch, iteration, best = ckpt.load_checkpoint(path, other, other_optimizer)
    assert (epoch, iteration, best) == (3, 7, 0.25)
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)
    momentum = optimizer.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(other_optimizer.state_dict()["state"][0]["momentum_buffer"], momentum)
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


@pytest.mark.parametrize(("keep", "left"), [(2, ["3", "4"]), (-1, ["0", "1", "2", "3", "4"])])
def test_epoch_snapshots_keep_the_last_n(tmp_path, keep, left):
    model = torch.nn.Conv2d(3, 4, 1)
    (tmp_path / "best.pth").write_bytes(b"not a snapshot")
    for epoch in range(5):
        with torch.no_grad():
            model.weight.fill_(epoch)
        ckpt.save_epoch_snapshot(tmp_path, epoch, model, keep)
    snapshots = sorted(p.stem for p in tmp_path.glob("*.pth") if p.stem.isdigit())
    assert snapshots == left
    assert (tmp_path / "best.pth").read_bytes() == b"not a snapshot"
    state = torch.load(tmp_path / "4.pth", weights_only=True)
    assert set(state) == {"model.weight", "model.bias"} and (state["model.weight"] == 4).all()
