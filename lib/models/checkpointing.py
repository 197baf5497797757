"""Activation checkpointing (TRAIN.GRAD_CHECKPOINT): a checkpointed region keeps only its inputs
during the forward pass and recomputes its activations in the backward pass.

Models that support it have a `grad_checkpoint` attribute (False by default) and run their
stages through `run_modules` (each module one region) and other parts, such as the stem and the
head, through `run_region`; parameter names do not change, so checkpoints load as before.
"""

from contextlib import contextmanager, nullcontext
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["run_modules", "run_region", "set_grad_checkpoint"]


@contextmanager
def _frozen_statistics(module):
    """BatchNorms of `module` normalise with the batch statistics as before but keep their running
    statistics: the recomputation must not update them a second time. (Momentum 0 rather than
    `track_running_stats=False`, which would change what the recomputation saves for backward.)"""
    norms = [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved, strict=True):
            m.momentum = momentum
            m.num_batches_tracked.copy_(count)


def _contexts(module):
    return nullcontext(), _frozen_statistics(module)


def run_region(function, *inputs, module, checkpointed):
    """`function(*inputs)`; with `checkpointed` (and gradients on) one checkpointed region whose
    BatchNorms, those of `module`, keep their running statistics during the recomputation."""
    if not (checkpointed and torch.is_grad_enabled()):
        return function(*inputs)
    # Compiled, the recomputation is part of the traced graph, whose buffer updates happen once
    # in the forward graph.
    eager = {} if torch.compiler.is_compiling() else {"context_fn": partial(_contexts, module)}
    return checkpoint(function, *inputs, use_reentrant=False, **eager)


def run_modules(modules, x, checkpointed):
    """`x` through each of `modules` in turn, each module one region (see `run_region`)."""
    for module in modules:
        x = run_region(module, x, module=module, checkpointed=checkpointed)
    return x


def set_grad_checkpoint(model, enabled=True):
    """Switch activation checkpointing of `model` on or off; False when the model has none."""
    if not hasattr(model, "grad_checkpoint"):
        return False
    model.grad_checkpoint = enabled
    return True
