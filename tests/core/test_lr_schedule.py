"""Poly schedule values, the extra phase, schedules by name and the per-group multipliers."""

import pytest
import torch

from config import load_config
from core.lr_schedule import LR_SCHEDULES, LRSchedule, build_lr_schedule, poly_lr, set_lr
from utils.errors import ConfigError


def test_poly_lr_values():
    assert poly_lr(0.01, 0, 100) == 0.01
    assert poly_lr(0.01, 100, 100) == 0.0
    assert poly_lr(0.1, 25, 100, power=1.0) == pytest.approx(0.075, rel=1e-15)
    assert poly_lr(1.0, 50, 100) == pytest.approx(0.5358867312681466, rel=1e-15)  # 0.5 ** 0.9


def test_poly_lr_rejects_bad_iterations():
    with pytest.raises(ValueError, match="cur_iter 11 is outside 0..max_iter"):
        poly_lr(0.01, 11, 10)
    with pytest.raises(ValueError, match="max_iter must be positive, got 0"):
        poly_lr(0.01, 0, 0)


def phase_lr(epoch, iteration, **run):
    return LRSchedule(**run)(epoch, iteration)


def test_the_schedule_is_set_after_each_step_as_the_original():
    run = dict(main_iters=10, extra_iters=5, end_epoch=4, extra_epoch=2, lr=0.01, extra_lr=0.001)
    assert phase_lr(0, 0, **run) == 0.01  # the optimizer's initial LR
    assert phase_lr(0, 1, **run) == 0.01  # poly(0)
    assert phase_lr(1, 2, **run) == pytest.approx(0.01 * (1 - 11 / 40) ** 0.9, rel=1e-15)
    assert phase_lr(3, 9, **run) == pytest.approx(0.01 * (2 / 40) ** 0.9, rel=1e-15)
    # the extra phase's first step runs at the last LR the main phase set, poly(39)
    assert phase_lr(4, 0, **run) == pytest.approx(0.01 * (1 / 40) ** 0.9, rel=1e-15)
    assert phase_lr(4, 1, **run) == 0.001  # then the schedule restarts from EXTRA_LR
    assert phase_lr(5, 4, **run) == pytest.approx(0.001 * (2 / 10) ** 0.9, rel=1e-15)
    only_extra = {**run, "end_epoch": 0}
    assert phase_lr(0, 0, **only_extra) == 0.01  # no main phase: the optimizer's initial LR
    with pytest.raises(ValueError, match=r"epoch 6 is outside 0..5 \(END_EPOCH 4 \+ EXTRA_EPOCH 2"):
        phase_lr(6, 0, **run)
    with pytest.raises(ValueError, match="iteration 10 is outside 0..9"):
        phase_lr(0, 10, **run)
    with pytest.raises(ValueError, match="iteration 5 is outside 0..4"):
        phase_lr(4, 5, **run)


def test_set_lr_applies_group_multipliers():
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    optimizer = torch.optim.SGD(
        [
            {"params": [params[0]], "lr_mult": 1.0},
            {"params": [params[1]], "lr_mult": 10.0},
            {"params": [params[2]]},
        ],
        lr=0.5,
    )
    set_lr(optimizer, 0.02)
    assert [g["lr"] for g in optimizer.param_groups] == [0.02, 0.2, 0.02]


@LR_SCHEDULES.register("test_constant")
def constant_lr(base_lr, cur_iter, max_iter, power):
    return base_lr


def test_schedules_are_chosen_by_name():
    cfg = load_config(None, ["TRAIN.END_EPOCH", "2", "TRAIN.LR", "0.02"])
    assert cfg.TRAIN.LR_SCHEDULER == "poly"
    poly = build_lr_schedule(cfg, main_iters=5, extra_iters=0)
    assert poly(1, 4) == pytest.approx(0.02 * (1 - 8 / 10) ** 0.9, rel=1e-15)
    constant = build_lr_schedule(
        load_config(None, ["TRAIN.END_EPOCH", "2", "TRAIN.LR_SCHEDULER", "test_constant"]), 5, 0
    )
    assert [constant(epoch, 3) for epoch in (0, 1)] == [0.01, 0.01]
    unknown = load_config(None, ["TRAIN.LR_SCHEDULER", "cosine"])
    with pytest.raises(ConfigError, match="TRAIN.LR_SCHEDULER 'cosine'.*: poly, test_constant"):
        build_lr_schedule(unknown, 5, 0)
