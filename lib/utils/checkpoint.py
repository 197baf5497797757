"""Atomic checkpoint files and the training state needed to resume exactly.

Files are written to a temporary file in the same folder, flushed and fsync'ed, then renamed
over the target, so a killed run never leaves a half-written checkpoint; they get the
permissions of any file the user creates (the umask). Network weights are stored under
`model.<key>`, the layout of the original code, so files move freely between this project and
the original one. Everything loads with `torch.load(weights_only=True)`; a file that cannot be
read or resumed is a `CheckpointError` naming it and what to do. `Checkpointer` owns the files
of one training run.
"""

import errno
import io
import logging
import os
import secrets
import shutil
import warnings
import zipfile
from pathlib import Path

import torch
from torch.nn import Module

from utils import faults
from utils.errors import CheckpointError, ConfigError
from utils.state_keys import state_differences

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pth.tar"
BEST = "best.pth"
FINAL = "final_state.pth"

# What a training checkpoint holds besides the weights (the original's keys and ours).
RUN_KEYS = ("epoch", "iteration", "best_mIoU", "optimizer")
START_FRESH = "move {} away (or set OUTPUT_DIR elsewhere) to start a new run"


def atomic_save(obj, path):
    """`torch.save(obj, path)` that either fully happens or not at all; a full disk is a
    `CheckpointError` naming the path and the size that did not fit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        # os.open applies the umask (mkstemp would make the file private to its owner).
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        faults.reached("checkpoint")
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if _disk_full(error):
            raise CheckpointError(_disk_full_message(obj, path)) from error
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _disk_full(error):
    codes = (errno.ENOSPC, errno.EDQUOT)
    while error is not None:
        if isinstance(error, OSError) and error.errno in codes:
            return True
        # torch.save reports a failed write as a RuntimeError naming the OS error.
        if isinstance(error, RuntimeError) and "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _disk_full_message(obj, path):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    free = shutil.disk_usage(path.parent).free
    kept = " (the previous file is intact)" if path.exists() else ""
    return (
        f"cannot write {path}: the disk is full ({buffer.tell() / 2**20:.1f} MiB did not fit, "
        f"{free / 2**20:.1f} MiB free){kept}; free some space or set OUTPUT_DIR to another disk"
    )


def remove_stale_temporaries(folder):
    """Delete temporary files that a run killed while writing a checkpoint left behind."""
    for path in Path(folder).glob(".*.tmp"):
        path.unlink(missing_ok=True)


def unwrap(model):
    """The plain module inside DDP (`module`) and `torch.compile` (`_orig_mod`) wrappers."""
    while isinstance(getattr(model, "module", None) or getattr(model, "_orig_mod", None), Module):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def network_state(model):
    """The model's weights in the original `model.<key>` layout (wrappers' prefixes removed),
    contiguous (a channels_last run's weights are stored as the original's)."""
    state = unwrap(model).state_dict()
    return {f"model.{key}": value.detach().cpu().contiguous() for key, value in state.items()}


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


def load_error_reason(error):
    """One line saying why `torch.load(weights_only=True)` failed (its messages are long)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        details = [line for line in lines[1:] if not line.startswith("Check the documentation")]
        return "it holds Python objects that safe loading refuses: " + " ".join(details[:1])
    return lines[0] if lines else type(error).__name__


def is_torchscript(path):
    """Whether `path` is a TorchScript archive (`torch.jit.save`), not a `torch.save` file:
    both are zip files, only TorchScript's hold compiled code (`<name>/constants.pkl`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _not_weights(path):
    """What the file `path` is when it is surely not a `torch.save` file, else None."""
    try:
        with open(path, "rb") as file:
            head = file.read(64)
    except (OSError, TypeError):  # a binary file object: torch.load says what it finds
        return None
    if head.startswith(b"PK\x03\x04"):  # zip: torch.save's format, or TorchScript's
        if is_torchscript(path):
            return (
                "it is a TorchScript export, not a weights file (tools/test.py and "
                "tools/pipeline.py run it as the model file)"
            )
        return None
    if head.startswith(b"\x80"):  # a pickle: torch.save's format before PyTorch 1.6
        return None
    start = head.lstrip().lower()
    if start.startswith((b"<!doctype", b"<html", b"<?xml")):
        what = "a web page (a download that returned a page instead of the file?)"
    elif not head:
        what = "an empty file"
    else:
        what = f"a file that starts with {head[:16]!r}"
    return f"it is not a PyTorch file but {what}"


def read_file(source, name=None):
    """`torch.load(source, weights_only=True)` on the CPU; `source` is a path or a binary file
    (then `name` names it). A file that is damaged, not a PyTorch file (a web page, a
    TorchScript export) or holds code is a `CheckpointError`."""
    try:
        with warnings.catch_warnings():  # a TorchScript file: said below, once
            warnings.filterwarnings("ignore", "'torch.load' received a zip file")
            return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = _not_weights(source) or load_error_reason(error)
        raise CheckpointError(f"{name or source} cannot be read: {reason}") from error


def save_checkpoint(path, model, optimizer, epoch, iteration, best_miou, scaler=None, **run):
    """Write `checkpoint.pth.tar`: the original keys, the iteration, the scaler and `run`
    (what `core.trainer.Trainer` needs to continue exactly: seed, batch size, ...).

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
            **run,
        },
        path,
    )


def load_checkpoint(data, source, model, optimizer, scaler=None):
    """Restore what `save_checkpoint` wrote (`data`, read from `source` by `read_file`) into the
    model, optimizer and scaler; returns `data`. The original code's checkpoint (no iteration:
    it continues at the start of its epoch) resumes too. A file that is not a training
    checkpoint or does not fit the model and optimizer is a `CheckpointError` saying what to do.
    """
    fresh = START_FRESH.format(source)
    if isinstance(data, dict) and "iteration" not in data:
        data = {**data, "iteration": 0}
    missing = [
        key for key in (*RUN_KEYS, "state_dict") if not isinstance(data, dict) or key not in data
    ]
    if missing:
        raise CheckpointError(
            f"{source} is not a training checkpoint (it lacks {', '.join(missing)}; weights "
            f"alone cannot resume a run): {fresh}"
        )
    # the original's FullModel also saved its loss's class weights (`loss.criterion.weight`)
    state = {
        key.removeprefix("model."): value
        for key, value in data["state_dict"].items()
        if not key.startswith("loss.")
    }
    try:
        unwrap(model).load_state_dict(state, strict=True)
    except RuntimeError as error:
        differences = state_differences(state, unwrap(model).state_dict())
        differences = differences or load_error_reason(error)
        raise CheckpointError(
            f"{source} was written by another model ({differences}); resume with the "
            f"config that wrote it, or {fresh}"
        ) from error
    _load_optimizer(optimizer, data["optimizer"], source, fresh)
    if scaler is not None and data.get("scaler"):
        scaler.load_state_dict(data["scaler"])
    return data


# Settings of how the optimizer runs, not of what it computes: this run's, not the file's.
_IMPLEMENTATION = ("fused", "foreach", "capturable", "differentiable")


def _load_optimizer(optimizer, saved, source, fresh):
    """`optimizer.load_state_dict(saved)`, keeping this run's implementation and its own group
    keys (`lr_mult`, `name`); another optimizer type is a CheckpointError."""
    current = [dict(group) for group in optimizer.param_groups]
    try:
        optimizer.load_state_dict(saved)
    except (RuntimeError, ValueError, KeyError) as error:
        reason = f"its state lacks {error}" if isinstance(error, KeyError) else str(error)
        raise CheckpointError(
            f"{source} was written by another optimizer or model ({reason}); "
            f"resume with the config that wrote it, or {fresh}"
        ) from error
    for group, before in zip(optimizer.param_groups, current, strict=True):
        lacking = sorted(set(optimizer.defaults) - set(group))
        if lacking:
            raise CheckpointError(
                f"{source} was written by another optimizer than {type(optimizer).__name__} "
                f"(its settings lack {', '.join(lacking)}); resume with the TRAIN.OPTIMIZER "
                f"that wrote it, or {fresh}"
            )
        for key, value in before.items():
            if key not in group or key in _IMPLEMENTATION:
                group[key] = value


class Checkpointer:
    """The files of one training run in `folder`: CHECKPOINT (where training continues),
    BEST (the weights of the best validation mIoU so far), FINAL (the last weights) and the
    epoch snapshots. Only a `writer` process (rank 0) writes; every process keeps `best_miou`.
    """

    def __init__(self, folder, writer=True):
        self.folder = Path(folder)
        self.path = self.folder / CHECKPOINT
        self.writer = writer
        self.best_miou = 0.0

    def read(self, resume):
        """The bytes of CHECKPOINT when the run resumes (`resume`: AUTO_RESUME or TRAIN.RESUME),
        else None; a ConfigError when the folder holds a run that this one would overwrite.
        Temporaries a killed run left are removed first."""
        remove_stale_temporaries(self.folder)
        self.check_not_overwriting(resume)
        if not self.path.is_file():
            if resume:
                logger.info(
                    "AUTO_RESUME: there is no %s yet; training starts from scratch", self.path
                )
            return None
        return self.path.read_bytes()

    def check_not_overwriting(self, resume):
        """ConfigError when the folder holds a run that this one, not resuming, would overwrite."""
        if self.path.is_file() and not resume:
            raise ConfigError(
                f"{self.path} exists: {self.folder} holds a run that this one would overwrite; "
                "continue it with AUTO_RESUME True, or start a new run in another folder "
                "(OUTPUT_DIR other/ or a YAML of another name), or delete the folder"
            )

    def restore(self, data, model, optimizer, scaler=None):
        """Load the bytes `read` returned into the model, optimizer and scaler; returns the
        checkpoint's dict and takes its best mIoU."""
        try:
            state = read_file(io.BytesIO(data), self.path)
        except CheckpointError as error:
            raise CheckpointError(f"{error}; {START_FRESH.format(self.path)}") from error
        load_checkpoint(state, self.path, model, optimizer, scaler)
        self.best_miou = state["best_mIoU"]
        return state

    def save(self, model, optimizer, epoch, iteration, scaler=None, **run):
        """Write CHECKPOINT (`save_checkpoint`) with the best mIoU so far."""
        if self.writer:
            save_checkpoint(
                self.path, model, optimizer, epoch, iteration, self.best_miou, scaler, **run
            )

    def update_best(self, miou, model):
        """Keep `miou` as the best one and write BEST when it beats the best so far."""
        if miou > self.best_miou and self.writer:
            atomic_save(network_state(model), self.folder / BEST)
        self.best_miou = max(self.best_miou, miou)

    def save_final(self, model):
        """Write FINAL, the weights at the end of training."""
        if self.writer:
            atomic_save(network_state(model), self.folder / FINAL)

    def save_snapshot(self, epoch, model, keep):
        """`save_epoch_snapshot` in the run's folder."""
        if self.writer:
            save_epoch_snapshot(self.folder, epoch, model, keep)
