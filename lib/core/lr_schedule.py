"""The poly learning rate of every optimizer step, as the original sets it.

The original sets the learning rate *after* each `optimizer.step()`, from the index of the step
just taken: step 0 of a run runs at the optimizer's initial TRAIN.LR and step k at
poly(TRAIN.LR, k - 1). The extra phase (TRAIN.EXTRA_EPOCH epochs, usually on
DATASET.EXTRA_TRAIN_SET) restarts the schedule from TRAIN.EXTRA_LR over its own steps: its
first step still runs at the last rate the main phase set, poly(TRAIN.LR, N - 1) over N main
steps, and its step k at poly(TRAIN.EXTRA_LR, k - 1).
"""

__all__ = ["poly_lr", "phase_lr", "set_lr"]


def poly_lr(base_lr, cur_iter, max_iter, power=0.9):
    """`base_lr * (1 - cur_iter / max_iter) ** power`."""
    if max_iter <= 0:
        raise ValueError(f"max_iter must be positive, got {max_iter}")
    if not 0 <= cur_iter <= max_iter:
        raise ValueError(f"cur_iter {cur_iter} is outside 0..max_iter ({max_iter})")
    return base_lr * (1 - cur_iter / max_iter) ** power


def phase_lr(
    epoch, iteration, main_iters, extra_iters, end_epoch, extra_epoch, lr, extra_lr, power=0.9
):
    """The learning rate of step `iteration` of `epoch` (both 0-based, epochs counted over the
    whole run), as the original runs it (see the module).

    Epochs below `end_epoch` are the main phase, `main_iters` steps each, from `lr`; the
    `extra_epoch` epochs after them the extra phase, `extra_iters` steps each, from `extra_lr`.
    """
    if not 0 <= epoch < end_epoch + extra_epoch:
        raise ValueError(
            f"epoch {epoch} is outside 0..{end_epoch + extra_epoch - 1} "
            f"(END_EPOCH {end_epoch} + EXTRA_EPOCH {extra_epoch})"
        )
    main = epoch < end_epoch
    epoch_iters = main_iters if main else extra_iters
    if not 0 <= iteration < epoch_iters:
        raise ValueError(f"iteration {iteration} is outside 0..{epoch_iters - 1} of the epoch")
    main_steps = end_epoch * main_iters
    if main:
        step = epoch * main_iters + iteration
        return lr if step == 0 else poly_lr(lr, step - 1, main_steps, power)
    step = (epoch - end_epoch) * extra_iters + iteration
    if step == 0:
        return poly_lr(lr, main_steps - 1, main_steps, power) if main_steps else lr
    return poly_lr(extra_lr, step - 1, extra_epoch * extra_iters, power)


def set_lr(optimizer, lr):
    """Set every parameter group to `lr` times its `lr_mult` (1 when the group has none).

    Group 0 holds the backbone (multiplier 1); the non-backbone groups carry
    TRAIN.NONBACKBONE_MULT as `lr_mult`.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
