"""The poly learning-rate schedule, set per iteration, with the optional extra training phase.

The main phase runs TRAIN.END_EPOCH epochs from TRAIN.LR; the extra phase (TRAIN.EXTRA_EPOCH
epochs, usually on DATASET.EXTRA_TRAIN_SET) restarts the schedule from TRAIN.EXTRA_LR.
"""

__all__ = ["poly_lr", "lr_at", "phase_lr", "set_lr"]


def poly_lr(base_lr, cur_iter, max_iter, power=0.9):
    """`base_lr * (1 - cur_iter / max_iter) ** power`."""
    if max_iter <= 0:
        raise ValueError(f"max_iter must be positive, got {max_iter}")
    if not 0 <= cur_iter <= max_iter:
        raise ValueError(f"cur_iter {cur_iter} is outside 0..max_iter ({max_iter})")
    return base_lr * (1 - cur_iter / max_iter) ** power


# The name core.trainer imports.
lr_at = poly_lr


def phase_lr(epoch, iteration, epoch_iters, end_epoch, extra_epoch, lr, extra_lr, power=0.9):
    """The poly LR at `iteration` of `epoch` (both 0-based, counted over the whole run).

    Epochs below `end_epoch` follow the schedule from `lr` over `end_epoch * epoch_iters`
    iterations; the `extra_epoch` epochs after them restart it from `extra_lr` over
    `extra_epoch * epoch_iters`. `epoch_iters` is the number of iterations per epoch of the
    loader of the phase `epoch` is in.
    """
    if not 0 <= epoch < end_epoch + extra_epoch:
        raise ValueError(
            f"epoch {epoch} is outside 0..{end_epoch + extra_epoch - 1} "
            f"(END_EPOCH {end_epoch} + EXTRA_EPOCH {extra_epoch})"
        )
    if not 0 <= iteration < epoch_iters:
        raise ValueError(f"iteration {iteration} is outside 0..{epoch_iters - 1} of the epoch")
    if epoch < end_epoch:
        return poly_lr(lr, epoch * epoch_iters + iteration, end_epoch * epoch_iters, power)
    cur_iter = (epoch - end_epoch) * epoch_iters + iteration
    return poly_lr(extra_lr, cur_iter, extra_epoch * epoch_iters, power)


def set_lr(optimizer, lr):
    """Set every parameter group to `lr` times its `lr_mult` (1 when the group has none).

    Group 0 holds the backbone (multiplier 1); the non-backbone groups carry
    TRAIN.NONBACKBONE_MULT as `lr_mult`.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
