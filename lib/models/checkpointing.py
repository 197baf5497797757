"""Activation checkpointing (TRAIN.GRAD_CHECKPOINT): a model stage's modules keep only their
inputs during the forward pass and recompute their activations in the backward pass.

Models that support it have a `grad_checkpoint` attribute (False by default) and run their
stages through `run_modules`; parameter names do not change, so checkpoints load as before.
"""

from contextlib import contextmanager, nullcontext
from functools import partial

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["run_modules", "set_grad_checkpoint"]


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


def run_modules(modules, x, checkpointed):
    """`x` through each of `modules` in turn; with `checkpointed` (and gradients on) each module
    is one checkpointed region, recomputed in the backward pass from its saved input."""
    for module in modules:
        if checkpointed and torch.is_grad_enabled():
            # Compiled, the recomputation is part of the traced graph, whose buffer updates happen
            # once in the forward graph.
            eager = (
                {} if torch.compiler.is_compiling() else {"context_fn": partial(_contexts, module)}
            )
            x = checkpoint(module, x, use_reentrant=False, **eager)
        else:
            x = module(x)
    return x


def set_grad_checkpoint(model, enabled=True):
    """Switch activation checkpointing of `model` on or off; False when the model has none."""
    if not hasattr(model, "grad_checkpoint"):
        return False
    model.grad_checkpoint = enabled
    return True
