"""The Trainer: a run's random state follows its seed alone; the loss reaches the host every
PRINT_FREQ steps and a non-finite one stops the run."""

import pytest
import torch

from config import load_config
from core.trainer import RunningLoss, Trainer, TrainingDivergedError, seed_everything
from helpers.tiny_run import write_tiny_run
from utils.distributed import DistInfo


def initial_weights(cfg_file, tmp_path, seed):
    cfg = load_config(str(cfg_file), [])
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    seed_everything(seed)  # as tools/train.py does
    trainer = Trainer(cfg, dist, tmp_path / f"run{seed}", seed=seed)
    return {k: v.clone() for k, v in trainer.net.state_dict().items()}


def test_same_seed_same_initialisation_whatever_ran_before(tmp_path):
    cfg_file = write_tiny_run(tmp_path)
    first = initial_weights(cfg_file, tmp_path, 304)
    torch.rand(100)  # global random state consumed in between
    second = initial_weights(cfg_file, tmp_path, 304)
    other = initial_weights(cfg_file, tmp_path, 305)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_epoch_snapshots_as_the_panorama_fork(tmp_path):
    """TRAIN.EPOCH_SNAPSHOTS 2 over 3 epochs: 1.pth and 2.pth (0-based) are left, the last one
    holding the final weights; by default there are none."""
    cfg_file = write_tiny_run(tmp_path, num_train=2, num_val=1, END_EPOCH=3, EPOCH_SNAPSHOTS=2)
    cfg = load_config(str(cfg_file), [])
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    Trainer(cfg, dist, tmp_path / "run").train()
    assert sorted(p.name for p in (tmp_path / "run").glob("[0-9]*.pth")) == ["1.pth", "2.pth"]
    last = torch.load(tmp_path / "run" / "2.pth", weights_only=True)
    final = torch.load(tmp_path / "run" / "final_state.pth", weights_only=True)
    assert last.keys() == final.keys() and all(torch.equal(last[k], final[k]) for k in final)

    cfg = load_config(str(cfg_file), ["TRAIN.EPOCH_SNAPSHOTS", "0", "TRAIN.END_EPOCH", "1"])
    Trainer(cfg, dist, tmp_path / "plain").train()
    assert not list((tmp_path / "plain").glob("[0-9]*.pth"))


def cpu_trainer(tmp_path, *opts, **train):
    cfg_file = write_tiny_run(tmp_path, num_train=16, **train)
    cfg = load_config(str(cfg_file), list(opts))
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    return Trainer(cfg, dist, tmp_path / "run")


@pytest.mark.parametrize("checkpoint_every, caught_at", [(0, 3), (2, 2)])
def test_a_non_finite_loss_stops_the_run_within_print_freq_steps(
    tmp_path, checkpoint_every, caught_at
):
    """The weights turn NaN after step 1: the run stops at the next PRINT_FREQ step, or before
    the next mid-epoch checkpoint, which is then never written."""
    trainer = cpu_trainer(tmp_path, "PRINT_FREQ", "3", CHECKPOINT_EVERY=checkpoint_every)
    real_step, steps = trainer.train_step, []

    def step(images, labels):
        loss = real_step(images, labels)
        steps.append(loss)
        with torch.no_grad():
            trainer.net.last_layer[3].bias.fill_(float("nan"))
        return loss

    trainer.train_step = step
    with pytest.raises(
        TrainingDivergedError, match=f"nan in epoch 1 by iteration {caught_at};"
    ) as err:
        trainer.train()
    # the advice fits the run: float32 is offered only to a mixed-precision one
    assert ("TRAIN.AMP False" in str(err.value)) == trainer.cfg.TRAIN.AMP
    assert len(steps) == caught_at
    assert torch.isfinite(steps[0]) and torch.isnan(steps[1])
    assert not (tmp_path / "run" / "checkpoint.pth.tar").exists()


def test_the_loss_reaches_the_host_every_print_freq_steps(tmp_path, monkeypatch):
    trainer = cpu_trainer(tmp_path, "PRINT_FREQ", "3")  # 8 steps: at 3, 6 and the epoch's end
    calls = []
    real_mean = RunningLoss.mean
    monkeypatch.setattr(
        RunningLoss, "mean", lambda self: calls.append(self.steps) or real_mean(self)
    )
    loss = trainer.train_epoch(0)
    assert calls == [3, 6, 8]
    assert loss > 0


def test_validation_runs_the_eager_plain_model_not_the_compiled_one(tmp_path):
    """TRAIN.COMPILE: validation (other shapes, no gradients) runs the eager `net`, so it never
    compiles the model again nor waits on the other processes."""
    trainer = cpu_trainer(tmp_path, "TRAIN.COMPILE", "True")
    assert trainer.train_step.train_model is not trainer.net  # compiled lazily, at its first call

    def compiled(*_args):
        raise AssertionError("validation ran the compiled model")

    trainer.train_step.train_model = compiled
    scores = trainer.evaluate(0)
    assert 0 <= scores["mIoU"] <= 1


def test_learning_rate_of_every_step_with_an_extra_phase_is_the_originals(tmp_path):
    """Two main epochs of 4 steps (8 images, batches of 2), one extra epoch of 1 step (3
    images): the LR each optimizer step ran at, against the original loop, which sets the LR
    after each step with poly(base, index of that step in its phase)."""
    cfg_file = write_tiny_run(tmp_path, num_train=8, num_val=3, END_EPOCH=2, EXTRA_EPOCH=1)
    cfg = load_config(
        str(cfg_file), ["DATASET.EXTRA_TRAIN_SET", "val.lst", "TRAIN.EXTRA_LR", "0.004"]
    )
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    trainer = Trainer(cfg, dist, tmp_path / "run")
    ran_at = []
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        ran_at.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    trainer.train()

    expected, current = [], 0.01  # the original: the optimizer starts at TRAIN.LR
    for base, epochs, iters in ((0.01, 2, 4), (0.004, 1, 1)):
        for epoch in range(epochs):
            for i in range(iters):
                expected.append(current)
                current = base * (1 - (epoch * iters + i) / (epochs * iters)) ** 0.9
    assert ran_at == pytest.approx(expected, rel=1e-12)
    assert ran_at[:2] == [0.01, 0.01] and ran_at[-1] == pytest.approx(0.01 * (1 / 8) ** 0.9)
