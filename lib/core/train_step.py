"""The model as it is trained and one optimisation step of it.

`TrainStep(cfg, model, criterion, dist)` applies the TRAIN keys of speed and memory:
CHANNELS_LAST (model and batches), AMP / AMP_DTYPE (autocast; a gradient scaler for float16),
GRAD_CHECKPOINT (activation checkpointing of the stem, stage modules and head), COMPILE
(`torch.compile`), and wraps the model in DDP across processes. On the CPU, channels_last
BatchNorms of few channels run their backward pass on padded channels (`models.padded_batchnorm`).
Calling it runs forward, loss (in float32), backward and the optimizer update, and returns the
loss as a tensor on the device: nothing in a step waits for the device. The gradients are freed
before the forward pass, so the forward's activations do not share the memory with the last
step's gradients.
"""

import torch
from torch.nn.parallel import DistributedDataParallel

import datasets
from models.checkpointing import set_grad_checkpoint
from models.outputs import as_list
from models.padded_batchnorm import pad_batchnorm_backward
from utils.errors import ConfigError
from utils.precision import autocast, autocast_dtype

__all__ = ["TrainStep", "autocast", "build_optimizer", "training_dtype"]


def training_dtype(cfg, device):
    """The autocast type of a run (None: float32): TRAIN.AMP off -> None; on ->
    `utils.precision.autocast_dtype` of TRAIN.AMP_DTYPE, for speed only (float32 where the
    device's bfloat16 is emulated)."""
    if not cfg.TRAIN.AMP:
        return None
    return autocast_dtype(device, cfg.TRAIN.AMP_DTYPE, native_only=True, key="TRAIN.AMP_DTYPE")


def build_optimizer(cfg, model, fused=True):
    """SGD, Adam or AdamW; TRAIN.NONBACKBONE_KEYWORDS parameters get an LR multiplier.

    `fused`: PyTorch's single-kernel implementation (no per-parameter loop, no temporaries);
    False gives PyTorch's default one, as the original code used.
    """
    keywords = list(cfg.TRAIN.NONBACKBONE_KEYWORDS)
    backbone, head = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (head if any(k in name for k in keywords) else backbone).append(param)
    groups = [{"params": backbone, "lr_mult": 1.0, "name": "backbone"}]
    if head:
        groups.append(
            {"params": head, "lr_mult": float(cfg.TRAIN.NONBACKBONE_MULT), "name": "head"}
        )
    implementation = {"fused": True} if fused else {}
    name = cfg.TRAIN.OPTIMIZER.lower()
    if name == "sgd":
        return torch.optim.SGD(
            groups,
            lr=cfg.TRAIN.LR,
            momentum=cfg.TRAIN.MOMENTUM,
            weight_decay=cfg.TRAIN.WD,
            nesterov=cfg.TRAIN.NESTEROV,
            **implementation,
        )
    if name in ("adam", "adamw"):
        optimizer = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return optimizer(groups, lr=cfg.TRAIN.LR, weight_decay=cfg.TRAIN.WD, **implementation)
    raise ConfigError(f"TRAIN.OPTIMIZER is {cfg.TRAIN.OPTIMIZER!r}; expected sgd, adam or adamw")


def as_float(outputs):
    """Model outputs (a tensor or a list, e.g. OCR's) as a list in float32: the loss is computed
    in fp32."""
    return [o.float() for o in as_list(outputs)]


class TrainStep:
    """The model as trained (`net`: the plain module, whose state dict is what checkpoints hold;
    `model`: DDP-wrapped across processes, for validation; `train_model`: compiled or `model`),
    its optimizer and gradient scaler; `step(images, labels)` is one optimisation step."""

    def __init__(self, cfg, model, criterion, dist, fused=True, free_grads=True, padded_norms=True):
        self.device = dist.device
        self.free_grads = free_grads  # False: zeroed in place, kept between steps (PyTorch 1.x)
        self.dtype = training_dtype(cfg, self.device)
        self.memory_format = (
            torch.channels_last if cfg.TRAIN.CHANNELS_LAST else torch.contiguous_format
        )
        self.clip_grad = cfg.TRAIN.CLIP_GRAD
        self.grad_checkpoint = cfg.TRAIN.GRAD_CHECKPOINT
        if self.grad_checkpoint and not set_grad_checkpoint(model):
            raise ConfigError(
                f"TRAIN.GRAD_CHECKPOINT: MODEL.NAME {cfg.MODEL.NAME} has no checkpointed stages"
            )
        model = model.to(self.device, memory_format=self.memory_format)
        # padded_norms=False: PyTorch's BatchNorm backward for every channel count.
        cpu_eager = self.device.type == "cpu" and not cfg.TRAIN.COMPILE
        if padded_norms and cpu_eager and cfg.TRAIN.CHANNELS_LAST:
            pad_batchnorm_backward(model)
        if dist.distributed and self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.net = model
        if dist.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        self.model = model
        self.train_model = torch.compile(model) if cfg.TRAIN.COMPILE else model
        self.criterion = criterion.to(self.device)
        self.optimizer = build_optimizer(cfg, self.net, fused)
        use_scaler = self.dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type) if use_scaler else None

    def inputs(self, images, labels):
        """A loader batch (uint8 images, labels) -> normalised float input in the run's memory
        format and int64 labels, on the device."""
        images = images.to(self.device, non_blocking=True)
        images = datasets.normalize(images.contiguous(memory_format=self.memory_format))
        return images, labels.to(self.device, non_blocking=True).long()

    def __call__(self, images, labels):
        """Forward, loss, backward and update on one batch; returns the loss (a device tensor)."""
        images, labels = self.inputs(images, labels)
        self.optimizer.zero_grad(set_to_none=self.free_grads)
        # The weights' low-precision copies are not kept through the forward pass when the
        # checkpointed regions would not keep them either.
        with autocast(self.device, self.dtype, cache=not self.grad_checkpoint):
            outputs = self.train_model(images)
        # Never a checkpointed region: the backward pass starts with the loss, so recomputing it
        # would hold the same tensors at the same moment and only cost time.
        loss = self.criterion(as_float(outputs), labels)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        if self.clip_grad > 0:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip_grad)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return loss.detach()
