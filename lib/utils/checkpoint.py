"""Atomic checkpoint files and the training state needed to resume exactly.

Files are written to a temporary file in the same folder, flushed and fsync'ed, then renamed
over the target, so a killed run never leaves a half-written checkpoint. Network weights are
stored under `model.<key>`, the layout of the original code, so files move freely between this
project and the original one. Everything loads with `torch.load(weights_only=True)`.
"""

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

CHECKPOINT = "checkpoint.pth.tar"
BEST = "best.pth"
FINAL = "final_state.pth"


def atomic_save(obj, path):
    """`torch.save(obj, path)` that either fully happens or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_stale_temporaries(folder):
    """Delete temporary files that a run killed while writing a checkpoint left behind."""
    for path in Path(folder).glob(".*.tmp"):
        path.unlink(missing_ok=True)


def network_state(model):
    """The model's weights in the original `model.<key>` layout (DDP's `module.` removed)."""
    model = getattr(model, "module", model)
    return {f"model.{key}": value.detach().cpu() for key, value in model.state_dict().items()}


def save_epoch_snapshot(folder, epoch, model, keep):
    """Write `<folder>/<epoch>.pth`, the network weights after `epoch` (0-based), as the panorama
    fork did, then delete all but the `keep` latest `<number>.pth` files (`keep` < 0: none)."""
    folder = Path(folder)
    atomic_save(network_state(model), folder / f"{epoch}.pth")
    if keep < 0:
        return
    snapshots = sorted(
        (p for p in folder.glob("*.pth") if p.stem.isdigit()), key=lambda p: int(p.stem)
    )
    for path in snapshots[: max(len(snapshots) - keep, 0)]:
        path.unlink()


def rng_state():
    """Python, NumPy and torch generator states, as types `weights_only` loading accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, model, optimizer, epoch, iteration, best_miou, scaler=None):
    """Write `checkpoint.pth.tar`: the original keys plus iteration, scaler and RNG states.

    `epoch` and `iteration` say where training continues: epoch `epoch`, batch `iteration`.
    """
    atomic_save(
        {
            "epoch": epoch,
            "iteration": iteration,
            "best_mIoU": float(best_miou),
            "state_dict": network_state(model),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(),
        },
        path,
    )


def load_checkpoint(path, model, optimizer, scaler=None):
    """Restore what `save_checkpoint` wrote; returns (epoch, iteration, best_mIoU)."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    state = {key.removeprefix("model."): value for key, value in data["state_dict"].items()}
    getattr(model, "module", model).load_state_dict(state, strict=True)
    optimizer.load_state_dict(data["optimizer"])
    if scaler is not None and data.get("scaler"):
        scaler.load_state_dict(data["scaler"])
    if data.get("rng"):
        set_rng_state(data["rng"])
    return data["epoch"], data.get("iteration", 0), data["best_mIoU"]
