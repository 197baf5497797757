"""Atomic checkpoint writing, the permissions it gives, a full disk, and what a checkpoint that
cannot be resumed says."""

import errno
import os
import stat

import pytest
import torch

from utils import checkpoint as ckpt
from utils.errors import CheckpointError, ConfigError


class Exploding:
    """Pickling this fails half-way through torch.save."""

    def __reduce__(self):
        raise RuntimeError("disk full")


def small_model():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "checkpoint.pth.tar"
    ckpt.atomic_save({"epoch": 1}, path)
    with pytest.raises(RuntimeError, match="disk full"):
        ckpt.atomic_save({"epoch": 2, "bad": Exploding()}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth.tar"]


def test_a_full_disk_names_the_path_and_the_size_and_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pth.tar"
    ckpt.atomic_save({"epoch": 1}, path)

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    big = {"weights": torch.zeros(512, 1024)}  # 2 MiB
    with pytest.raises(
        CheckpointError, match=r"cannot write .*checkpoint\.pth\.tar: the disk is fu"
    ):
        ckpt.atomic_save(big, path)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match=r"\(2\.0 MiB did not fit, .* MiB free\) \(the prev"):
        monkeypatch.setattr(os, "fsync", no_space)
        ckpt.atomic_save(big, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pth.tar"]


def test_files_get_the_permissions_of_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        ckpt.atomic_save({"epoch": 1}, tmp_path / "a.pth")
        os.umask(0o002)
        ckpt.atomic_save({"epoch": 1}, tmp_path / "b.pth")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.pth").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.pth").stat().st_mode) == 0o664


def test_checkpoint_round_trip_restores_weights_optimizer_and_run_keys(tmp_path):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    path = tmp_path / "checkpoint.pth.tar"
    ckpt.save_checkpoint(path, model, optimizer, 3, 7, 0.25, seed=5, global_batch=4)

    data = ckpt.read_file(path)
    assert sorted(data["state_dict"]) == sorted(f"model.{k}" for k in model.state_dict())
    other = small_model()
    other_optimizer = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    restored = ckpt.load_checkpoint(data, path, other, other_optimizer)
    assert (restored["epoch"], restored["iteration"], restored["best_mIoU"]) == (3, 7, 0.25)
    assert (restored["seed"], restored["global_batch"]) == (5, 4)
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)
    momentum = optimizer.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(other_optimizer.state_dict()["state"][0]["momentum_buffer"], momentum)


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


def test_checkpoints_that_cannot_resume_say_what_to_do(tmp_path):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "checkpoint.pth.tar"
    path.write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match=r"checkpoint\.pth\.tar cannot be read: "):
        ckpt.read_file(path)
    weights = ckpt.network_state(model)
    with pytest.raises(CheckpointError, match=r"is not a training checkpoint .* move .* away"):
        ckpt.load_checkpoint(weights, path, model, optimizer)
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))
    ckpt.save_checkpoint(path, other, torch.optim.SGD(other.parameters(), lr=0.1), 1, 0, 0.0)
    with pytest.raises(
        CheckpointError,
        match=r"written by another model \(4 missing key\(s\): 1\.bias, .*mis-shaped",
    ):
        ckpt.load_checkpoint(ckpt.read_file(path), path, model, optimizer)


def test_a_checkpoint_of_another_optimizer_is_refused_before_training(tmp_path):
    model = small_model()
    path = tmp_path / "checkpoint.pth.tar"
    ckpt.save_checkpoint(path, model, torch.optim.AdamW(model.parameters()), 1, 0, 0.0)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(
        CheckpointError, match=r"another optimizer than SGD .*lack dampening, momentum"
    ):
        ckpt.load_checkpoint(ckpt.read_file(path), path, model, sgd)


def test_the_original_codes_checkpoint_resumes_at_its_epoch(tmp_path):
    """The original saved {epoch, best_mIoU, state_dict, optimizer} with FullModel's `model.`
    and `loss.` keys and a plain SGD; this run's groups keep their own keys and implementation."""
    model = small_model()
    old = torch.optim.SGD([{"params": list(model.parameters()), "lr": 0.01}], lr=0.01, momentum=0.9)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    old.step()
    state = {**ckpt.network_state(model), "loss.criterion.weight": torch.ones(3)}
    data = {"epoch": 7, "best_mIoU": 0.5, "state_dict": state, "optimizer": old.state_dict()}
    path = tmp_path / "checkpoint.pth.tar"
    torch.save(data, path)
    fresh = small_model()
    group = {"params": list(fresh.parameters()), "lr_mult": 1.0, "name": "backbone"}
    optimizer = torch.optim.SGD([group], lr=0.01, momentum=0.9, fused=True)
    loaded = ckpt.load_checkpoint(ckpt.read_file(path), path, fresh, optimizer)
    assert loaded["epoch"] == 7 and loaded["iteration"] == 0
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    (group,) = optimizer.param_groups
    assert group["name"] == "backbone" and group["lr_mult"] == 1.0 and group["fused"]
    assert len(optimizer.state) == len(old.state)


def test_network_state_unwraps_compiled_and_channels_last_models():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    net = net.to(memory_format=torch.channels_last)
    state = ckpt.network_state(torch.compile(net))  # compiling happens at the first call: none here
    assert list(state) == [f"model.{k}" for k in net.state_dict()]
    assert state["model.0.weight"].is_contiguous()
    assert torch.equal(state["model.0.weight"], net[0].weight)


def test_the_checkpointer_owns_a_runs_files(tmp_path):
    """A fresh folder starts from scratch; a folder holding a run is resumed only when asked
    (its best mIoU with it); best.pth follows the best mIoU; only the writer writes."""
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    files = ckpt.Checkpointer(tmp_path / "run")
    assert files.read(resume=True) is None and files.read(resume=False) is None
    files.update_best(0.3, model)
    files.update_best(0.2, model)  # not a new best: best.pth keeps the weights of 0.3
    assert files.best_miou == 0.3
    best = tmp_path / "run" / ckpt.BEST
    with torch.no_grad():
        model[0].weight.add_(1)
    written = best.stat().st_mtime_ns, best.read_bytes()
    files.update_best(0.25, model)
    assert (best.stat().st_mtime_ns, best.read_bytes()) == written
    files.save(model, optimizer, 2, 5, seed=7)
    files.save_final(model)
    assert ckpt.read_file(tmp_path / "run" / ckpt.FINAL).keys() == ckpt.network_state(model).keys()

    (tmp_path / "run" / ".checkpoint.pth.tar.0123abcd.tmp").write_bytes(b"half")
    with pytest.raises(ConfigError, match=r"checkpoint\.pth\.tar exists: .* AUTO_RESUME True"):
        ckpt.Checkpointer(tmp_path / "run").read(resume=False)
    assert not list((tmp_path / "run").glob(".*.tmp"))  # a killed run's temporaries go
    resumed = ckpt.Checkpointer(tmp_path / "run", writer=False)
    other = small_model()
    state = resumed.restore(resumed.read(resume=True), other, torch.optim.SGD(other.parameters()))
    assert (state["epoch"], state["iteration"], state["seed"], resumed.best_miou) == (2, 5, 7, 0.3)
    assert torch.equal(other[0].weight, model[0].weight)
    resumed.update_best(0.9, other)
    resumed.save_final(other)
    resumed.save_snapshot(0, other, 1)
    assert resumed.best_miou == 0.9 and sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        ckpt.BEST,
        ckpt.CHECKPOINT,
        ckpt.FINAL,
    ]
    assert torch.equal(ckpt.read_file(best)["model.0.weight"] + 1, model[0].weight)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "not a PyTorch file but a web page"),
        (b"hello", r"not a PyTorch file but a file that starts with b'hello'"),
        (b"", "not a PyTorch file but an empty file"),
    ],
)
def test_files_that_are_not_pytorch_files_say_what_they_are(tmp_path, content, reason):
    path = tmp_path / "m.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"m\.pth cannot be read: it is {reason}"):
        ckpt.read_file(path)


def test_a_torchscript_file_is_named_as_such(tmp_path):
    path = tmp_path / "m.pth"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    assert ckpt.is_torchscript(path) and not ckpt.is_torchscript(tmp_path / "none.pth")
    with pytest.raises(CheckpointError, match="it is a TorchScript export, not a weights file"):
        ckpt.read_file(path)
