"""The training loop: one object whose steps (epoch, validation, checkpointing, logging) are
separate methods, built from an explicit `cfg` and the process's `DistInfo`.

Every random draw of a run is a function of the seed and the position in the run: the data
order of (seed, epoch), each sample's augmentation of (seed, epoch, sample index), each step's
model randomness (dropout, HANet's position noise) of (seed, rank, epoch, iteration). So a run
gives the same weights with any number of DataLoader workers, and a killed run resumed from its
checkpoint ends with the weights of the uninterrupted run, in one process or several.
"""

import logging
import math
import random
import time

import numpy as np
import torch

import datasets
import models
from config import unused_settings
from core.criterion import build_criterion
from core.data import eval_loader, train_loader
from core.lr_schedule import build_lr_schedule, set_lr
from core.run_log import RunLog, learning_rates
from core.train_step import TrainStep
from core.validation import ValidationPredictor, validate
from datasets import palette_for
from utils import faults
from utils.checkpoint import Checkpointer
from utils.distributed import (
    all_reduce_sum,
    barrier,
    broadcast_buffers,
    broadcast_object,
    together,
)
from utils.errors import CheckpointError, DataError, OtherProcessFailed, UserError
from utils.logger import progress_bar

logger = logging.getLogger(__name__)

# The run stops when its first this-many batches hold no class pixel at all (nor does a whole
# epoch): every pixel is ignored, the loss is 0 and nothing is learned.
EMPTY_BATCHES = 10

DEFAULT_SEED = 304  # the seed of tools/train.py without --seed


def resumes(cfg):
    """Whether a run of `cfg` continues from its folder's checkpoint (AUTO_RESUME or
    TRAIN.RESUME)."""
    return bool(cfg.AUTO_RESUME or cfg.TRAIN.RESUME)


def seed_everything(seed):
    """Seed Python's, NumPy's and PyTorch's global generators (the model's initialisation).
    Every entry point that builds a `Trainer` calls it first, with the run's seed + rank."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seed(seed, rank, epoch, iteration):
    """The torch seed of one training step of one process (dropout, HANet's position noise)."""
    state = np.random.SeedSequence((seed, rank, epoch, iteration)).generate_state(1, np.uint64)
    return int(state[0])


def configure_cudnn(cfg):
    """cudnn settings of CUDNN.*, as the original training script set them."""
    torch.backends.cudnn.benchmark = cfg.CUDNN.BENCHMARK
    torch.backends.cudnn.deterministic = cfg.CUDNN.DETERMINISTIC
    torch.backends.cudnn.enabled = cfg.CUDNN.ENABLED


class TrainingDivergedError(UserError, FloatingPointError):
    """The training loss became NaN or infinite."""


class RunningLoss:
    """The training loss summed on the device; `mean()` averages it over the steps and the
    processes, the only place a step's loss reaches the host."""

    def __init__(self, device, world_size):
        self.total = torch.zeros((), dtype=torch.float64, device=device)
        self.steps = 0
        self.world_size = world_size

    def add(self, loss):
        self.total += loss
        self.steps += 1

    def mean(self):
        """The mean loss so far, over the steps and the processes (a collective)."""
        return all_reduce_sum(self.total.clone()).item() / max(1, self.steps * self.world_size)

    def continue_from(self, mean, steps, is_main):
        """Start from an epoch's first `steps` steps of `mean` loss (a resumed run); rank 0
        carries their sum."""
        self.steps = steps
        if is_main:
            self.total += mean * steps * self.world_size


class Trainer:
    """Everything a training run holds; `train()` runs it from where the last checkpoint stopped.

    The model is initialised from the global generators, which the entry point seeds first
    (`seed_everything(seed + rank)`); everything random after that follows `seed` and the
    position in the run (see the module).
    Every list is read and every listed file checked, and the first sample of the training and
    validation lists loaded, before any training. Rank 0 decides whether the run resumes.
    `fused_optimizer=False` uses PyTorch's default optimizer implementation, as the original.
    """

    def __init__(
        self, cfg, dist, output_dir, tensorboard_dir=None, seed=DEFAULT_SEED, fused_optimizer=True
    ):
        configure_cudnn(cfg)
        self.cfg = cfg
        self.dist = dist
        self.seed = seed
        self.device = dist.device
        self.output_dir = output_dir
        self.num_classes = cfg.DATASET.NUM_CLASSES
        self.ignore_label = cfg.TRAIN.IGNORE_LABEL
        if dist.is_main:
            for message in unused_settings(cfg):
                logger.warning(message)

        with together():
            self.build_data(cfg, seed)
        extra = self.extra_loader
        extra_iters = extra.sampler.batches_per_epoch if extra is not None else 0
        main_iters = self.train_loader.sampler.batches_per_epoch
        self.lr_schedule = build_lr_schedule(cfg, main_iters, extra_iters)

        weights = cfg.DATASET.CLASS_WEIGHTS or self.train_set.class_weights
        criterion = build_criterion(cfg, class_weights=weights)
        model = models.build_model(cfg)
        self.train_step = TrainStep(cfg, model, criterion, dist, fused=fused_optimizer)
        self.net, self.model = self.train_step.net, self.train_step.model
        self.optimizer, self.scaler = self.train_step.optimizer, self.train_step.scaler
        if self.train_step.dtype is not None:
            logger.info("mixed precision: autocast to %s", self.train_step.dtype)
        self.predictor = ValidationPredictor.from_train_step(self.train_step, cfg)

        self.start_epoch, self.start_iter = 0, 0
        self.epoch_loss = [0.0, 0]  # [mean, steps] of the resumed epoch before its checkpoint
        self.validation_due = False  # the checkpoint was written before its epoch's validation
        self.checkpointer = Checkpointer(output_dir, writer=dist.is_main)
        self.resume()
        self.batches_run, self.labelled_run = 0, 0  # for the EMPTY_BATCHES check

        self.run_log = RunLog(
            output_dir,
            tensorboard_dir,
            self.val_set.class_names,
            palette_for(cfg),
            self.ignore_label,
            enabled=dist.is_main,
        )

    def build_data(self, cfg, seed):
        """The datasets (every listed file checked) and loaders; the first training and
        validation samples are loaded, so a systematic data mistake stops the run now."""
        dist = self.dist
        self.train_set = datasets.build_dataset(cfg, "train")
        self.extra_set = None
        if cfg.TRAIN.EXTRA_EPOCH > 0:
            split = "extra_train" if cfg.DATASET.EXTRA_TRAIN_SET else "train"
            self.extra_set = datasets.build_dataset(cfg, split)
        self.val_set = datasets.build_dataset(cfg, "val")
        for dataset in (self.train_set, self.extra_set, self.val_set):
            if dataset is not None:
                dataset[0]

        batch = cfg.TRAIN.BATCH_SIZE_PER_GPU
        self.global_batch = batch * dist.world_size
        pin = cfg.PIN_MEMORY and self.device.type == "cuda"
        make = lambda dataset: train_loader(  # noqa: E731
            dataset, batch, cfg.WORKERS, pin, dist.world_size, dist.rank, cfg.TRAIN.SHUFFLE, seed
        )
        self.train_loader = make(self.train_set)
        self.extra_loader = make(self.extra_set) if self.extra_set is not None else None
        self.val_loader = eval_loader(
            self.val_set,
            cfg.TEST.BATCH_SIZE_PER_GPU,
            cfg.WORKERS,
            pin,
            dist.world_size,
            dist.rank,
            self.ignore_label,
        )

    # -- resume ----------------------------------------------------------------------------

    def resume(self):
        """Rank 0 decides whether the run resumes and reads the checkpoint; every process
        continues from its copy, so processes whose folders differ never diverge."""
        data = None
        with together():
            if self.dist.is_main:
                data = self.checkpointer.read(resumes(self.cfg))
                if data is not None:
                    self.restore(data)
        data = broadcast_object(data)
        if data is not None and not self.dist.is_main:
            self.restore(data)

    def restore(self, data):
        """Load a checkpoint's bytes into the model, optimizer, scaler and run position."""
        path = self.checkpointer.path
        state = self.checkpointer.restore(data, self.net, self.optimizer, self.scaler)
        saved_batch = state.get("global_batch", self.global_batch)
        if saved_batch != self.global_batch:
            raise CheckpointError(
                f"{path} was written by a run with a global batch of {saved_batch}; this one has "
                f"{self.global_batch} (TRAIN.BATCH_SIZE_PER_GPU {self.cfg.TRAIN.BATCH_SIZE_PER_GPU}"
                f" x {self.dist.world_size} processes): resume with the same global batch, or "
                "start a new run in another OUTPUT_DIR"
            )
        self.start_epoch, self.start_iter = state["epoch"], state["iteration"]
        # The mean loss of the epoch's steps before the checkpoint: the log goes on as it was.
        self.epoch_loss = state.get("epoch_loss", [0.0, 0])
        self.validation_due = bool(state.get("validate", False))
        saved_seed = state.get("seed", self.seed)
        if saved_seed != self.seed:
            logger.info("resuming with the run's seed %d (not --seed %d)", saved_seed, self.seed)
            self.seed = saved_seed
            for loader in (self.train_loader, self.extra_loader):
                if loader is not None:
                    loader.sampler.seed = saved_seed
        # counted from 1, as the log lines and the bar count them
        position = (
            f"epoch {self.start_epoch + 1}/{self.end_epoch}, iteration {self.start_iter + 1}"
            if self.start_epoch < self.end_epoch
            else f"the end of epoch {self.start_epoch} (all {self.end_epoch} trained)"
        )
        logger.info(
            "=> resumed from %s at %s (best mIoU %.4f)",
            path,
            position,
            self.checkpointer.best_miou,
        )

    def save(self, epoch, iteration, validate=False, epoch_loss=(0.0, 0)):
        """checkpoint.pth.tar (rank 0): training continues at batch `iteration` of `epoch`;
        `validate`: the validation of epoch `epoch - 1` has not run yet; `epoch_loss`: the mean
        loss and steps of `epoch` so far."""
        self.checkpointer.save(
            self.net,
            self.optimizer,
            epoch,
            iteration,
            self.scaler,
            seed=self.seed,
            global_batch=self.global_batch,
            validate=validate,
            epoch_loss=list(epoch_loss),
        )

    @property
    def end_epoch(self):
        return self.cfg.TRAIN.END_EPOCH + self.cfg.TRAIN.EXTRA_EPOCH

    def loader(self, epoch):
        """The training loader of `epoch`: the extra phase's after TRAIN.END_EPOCH epochs."""
        return self.train_loader if epoch < self.cfg.TRAIN.END_EPOCH else self.extra_loader

    def steps_before(self, epoch):
        """Optimizer steps of the epochs before `epoch` (the extra phase has its own loader)."""
        main = min(epoch, self.cfg.TRAIN.END_EPOCH)
        steps = main * self.train_loader.sampler.batches_per_epoch
        if epoch > main:
            steps += (epoch - main) * self.extra_loader.sampler.batches_per_epoch
        return steps

    def train(self):
        """Run every remaining epoch, validating and checkpointing as configured. The
        checkpoint of an epoch is written before its validation, so a crash there loses no
        training; the resumed run validates first."""
        start = time.time()
        self.run_log.config(self.cfg.dump(), self.steps_before(self.start_epoch) + self.start_iter)
        if self.validation_due:
            self.evaluate(self.start_epoch - 1)
        for epoch in range(self.start_epoch, self.end_epoch):
            self.train_epoch(epoch, self.start_iter)
            self.start_iter = 0
            last = epoch + 1 == self.end_epoch
            due = (epoch + 1) % self.cfg.TRAIN.EVAL_EVERY == 0 or last
            self.save(epoch + 1, 0, validate=due)
            if self.cfg.TRAIN.EPOCH_SNAPSHOTS:
                self.checkpointer.save_snapshot(epoch, self.net, self.cfg.TRAIN.EPOCH_SNAPSHOTS)
            if due:
                self.evaluate(epoch)
        self.checkpointer.save_final(self.net)
        if self.dist.is_main:
            logger.info("Hours: %.2f", (time.time() - start) / 3600)
            logger.info("Done. Outputs in %s", self.output_dir)
        self.run_log.close()
        barrier()

    def train_epoch(self, epoch, start_iter=0):
        """Train epoch `epoch` from batch `start_iter`; returns its mean loss (None if empty)."""
        cfg = self.cfg
        loader = self.loader(epoch)
        iters = loader.sampler.batches_per_epoch
        loader.sampler.set_epoch(epoch, skip_batches=start_iter)
        self.model.train()
        with progress_bar(
            total=iters,
            initial=start_iter,
            desc=f"epoch {epoch + 1}/{self.end_epoch}",
            enabled=self.dist.is_main,
        ) as bar:  # closed, ending its line, also when an error stops the epoch
            running = RunningLoss(self.device, self.dist.world_size)
            if start_iter:
                running.continue_from(*self.epoch_loss, self.dist.is_main)
            crops = torch.zeros(2, dtype=torch.float64)  # [crops, crops with a class pixel]
            every = cfg.TRAIN.CHECKPOINT_EVERY
            for i, (images, labels, *_rest) in enumerate(loader, start=start_iter):
                labelled = self.check_labels(labels, epoch)
                crops += torch.tensor([len(labels), labelled], dtype=torch.float64)
                lr = self.lr_schedule(epoch, i)
                set_lr(self.optimizer, lr)
                torch.manual_seed(step_seed(self.seed, self.dist.rank, epoch, i))
                running.add(self.train_step(images, labels))
                faults.reached("step")
                bar.update()
                where = f"in epoch {epoch + 1} by iteration {i + 1}"
                if (i + 1) % cfg.PRINT_FREQ == 0:
                    loss = self.mean_loss(running, where)
                    bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
                    self.run_log.train_step(
                        epoch + 1,
                        self.end_epoch,
                        i + 1,
                        iters,
                        self.steps_before(epoch) + i + 1,
                        learning_rates(self.optimizer),
                        loss,
                    )
                if every and (i + 1) % every == 0 and i + 1 < iters:
                    loss = self.mean_loss(running, where)  # never a checkpoint of diverged weights
                    self.save(epoch, i + 1, epoch_loss=(loss, running.steps))
        self.check_epoch_labels(epoch, crops)
        if not running.steps:
            return None
        loss = self.mean_loss(running, f"in epoch {epoch + 1}")
        self.run_log.epoch_loss(epoch + 1, loss)
        return loss

    def mean_loss(self, running, where):
        """`running`'s mean loss over the steps and processes; a non-finite one stops the run
        with a TrainingDivergedError naming `where` (the iterations it covers). Every process
        calls it at the same iterations."""
        value = running.mean()
        if not math.isfinite(value):
            self.stop(
                TrainingDivergedError(
                    f"the training loss became {value} {where}; lower TRAIN.LR or set "
                    "TRAIN.CLIP_GRAD"
                    + (", or train in float32 (TRAIN.AMP False)" if self.cfg.TRAIN.AMP else "")
                )
            )
        return value

    # -- labels without a class pixel ------------------------------------------------------

    def check_labels(self, labels, epoch):
        """The number of crops of `labels` with a class pixel; stops the run when its first
        EMPTY_BATCHES batches (of all processes) have none."""
        labelled = int((labels != self.ignore_label).flatten(1).any(1).sum())
        if self.batches_run < EMPTY_BATCHES:
            self.batches_run += 1
            self.labelled_run += all_reduce_sum(torch.tensor([float(labelled)])).item()
            if self.batches_run == EMPTY_BATCHES and not self.labelled_run:
                what = f"the first {EMPTY_BATCHES} batches"
                self.stop(DataError(self.no_class_pixel(what, epoch)))
        return labelled

    def check_epoch_labels(self, epoch, crops):
        """Log how many training crops of the epoch had no class pixel; stop if all."""
        total, labelled = all_reduce_sum(crops).tolist()
        if total and labelled < total and self.dist.is_main:
            logger.warning(
                "epoch %d: %d of %d training crops had no class pixel (every pixel ignored)",
                epoch + 1,
                total - labelled,
                total,
            )
        if total and not labelled:
            self.stop(DataError(self.no_class_pixel(f"epoch {epoch + 1}", epoch)))

    def no_class_pixel(self, what, epoch):
        dataset = self.train_set if epoch < self.cfg.TRAIN.END_EPOCH else self.extra_set
        return (
            f"{what} of {dataset.list_file} held no class pixel: every label pixel is ignored, "
            f"so the loss is 0 and nothing is learned; the labels must hold the class values of "
            f"{type(dataset).__name__} (DATASET.NUM_CLASSES {self.num_classes}), not only the "
            "ignore value"
        )

    def stop(self, error):
        """Raise `error`, a decision every process took alike: on rank 0; the others stop
        quietly, so the message is printed once."""
        if self.dist.is_main:
            raise error
        raise OtherProcessFailed(str(error))

    def evaluate(self, epoch):
        """Validate, log the scores, and write best.pth on a new best mIoU."""
        broadcast_buffers(self.net)  # every process validates the model rank 0 saves
        self.val_loader.sampler.set_epoch(epoch, self.seed)
        loss, scores = validate(
            self.predictor,
            self.val_loader,
            on_batch=self.run_log.keep_samples,
            progress=self.dist.is_main,
        )
        self.checkpointer.update_best(scores["mIoU"], self.net)
        self.run_log.validation(
            epoch + 1, self.steps_before(epoch + 1), loss, scores, self.checkpointer.best_miou
        )
        return scores
