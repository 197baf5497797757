"""The learning rate of every optimizer step: `LRSchedule`, built from the config by name.

A schedule is a rule `rate(base_lr, done, total, power)`: the rate once `done` of a phase's
`total` steps are done. `TRAIN.LR_SCHEDULER` names it in `LR_SCHEDULES` (`poly` by default);
another schedule is one function registered there.

The original sets the learning rate *after* each `optimizer.step()`, from the index of the step
just taken: step 0 of a run runs at the optimizer's initial TRAIN.LR and step k at
rate(TRAIN.LR, k - 1). The extra phase (TRAIN.EXTRA_EPOCH epochs, usually on
DATASET.EXTRA_TRAIN_SET) restarts the schedule from TRAIN.EXTRA_LR over its own steps: its
first step still runs at the last rate the main phase set, rate(TRAIN.LR, N - 1) over N main
steps, and its step k at rate(TRAIN.EXTRA_LR, k - 1).
"""

from utils.registry import Registry

__all__ = ["LR_SCHEDULES", "LRSchedule", "build_lr_schedule", "poly_lr", "set_lr"]

LR_SCHEDULES = Registry("LR schedule", "TRAIN.LR_SCHEDULER")


@LR_SCHEDULES.register("poly")
def poly_lr(base_lr, cur_iter, max_iter, power=0.9):
    """`base_lr * (1 - cur_iter / max_iter) ** power`."""
    if max_iter <= 0:
        raise ValueError(f"max_iter must be positive, got {max_iter}")
    if not 0 <= cur_iter <= max_iter:
        raise ValueError(f"cur_iter {cur_iter} is outside 0..max_iter ({max_iter})")
    return base_lr * (1 - cur_iter / max_iter) ** power


class LRSchedule:
    """`schedule(epoch, iteration)`: the learning rate of step `iteration` of `epoch` (both
    0-based, epochs counted over the whole run), as the original runs it (see the module).

    Epochs below `end_epoch` are the main phase, `main_iters` steps each, from `lr`; the
    `extra_epoch` epochs after them the extra phase, `extra_iters` steps each, from `extra_lr`.
    `rate` is the schedule's rule (`poly_lr` by default).
    """

    def __init__(
        self,
        main_iters,
        extra_iters,
        end_epoch,
        extra_epoch,
        lr,
        extra_lr,
        power=0.9,
        rate=poly_lr,
    ):
        self.main_iters, self.extra_iters = main_iters, extra_iters
        self.end_epoch, self.extra_epoch = end_epoch, extra_epoch
        self.lr, self.extra_lr, self.power, self.rate = lr, extra_lr, power, rate

    def __call__(self, epoch, iteration):
        end_epoch, extra_epoch = self.end_epoch, self.extra_epoch
        if not 0 <= epoch < end_epoch + extra_epoch:
            raise ValueError(
                f"epoch {epoch} is outside 0..{end_epoch + extra_epoch - 1} "
                f"(END_EPOCH {end_epoch} + EXTRA_EPOCH {extra_epoch})"
            )
        main = epoch < end_epoch
        epoch_iters = self.main_iters if main else self.extra_iters
        if not 0 <= iteration < epoch_iters:
            raise ValueError(f"iteration {iteration} is outside 0..{epoch_iters - 1} of the epoch")
        main_steps = end_epoch * self.main_iters
        if main:
            step = epoch * self.main_iters + iteration
            return self.lr if step == 0 else self.rate(self.lr, step - 1, main_steps, self.power)
        step = (epoch - end_epoch) * self.extra_iters + iteration
        if step == 0:
            if not main_steps:
                return self.lr
            return self.rate(self.lr, main_steps - 1, main_steps, self.power)
        return self.rate(self.extra_lr, step - 1, extra_epoch * self.extra_iters, self.power)


def build_lr_schedule(cfg, main_iters, extra_iters):
    """The `LRSchedule` of a run: TRAIN.LR_SCHEDULER's rule over `main_iters` steps per main
    epoch and `extra_iters` per extra epoch; an unknown name is a ConfigError listing the
    known ones."""
    train = cfg.TRAIN
    return LRSchedule(
        main_iters,
        extra_iters,
        train.END_EPOCH,
        train.EXTRA_EPOCH,
        train.LR,
        train.EXTRA_LR,
        rate=LR_SCHEDULES.get(train.LR_SCHEDULER),
    )


def set_lr(optimizer, lr):
    """Set every parameter group to `lr` times its `lr_mult` (1 when the group has none).

    Group 0 holds the backbone (multiplier 1); the non-backbone groups carry
    TRAIN.NONBACKBONE_MULT as `lr_mult`.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
