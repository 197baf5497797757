"""The training loop: one object whose steps (epoch, validation, checkpointing, logging) are
separate methods, built from an explicit `cfg` and the process's `DistInfo`."""

import logging
import math
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import datasets
import models
from core.criterion import build_criterion
from core.data import eval_loader, train_loader
from core.lr_schedule import lr_at, set_lr
from core.run_log import RunLog, learning_rates
from utils import checkpoint as ckpt
from utils.distributed import all_reduce_sum, barrier
from utils.inference import palette_for
from utils.logger import progress_bar
from utils.metrics import confusion_matrix, segmentation_scores

logger = logging.getLogger(__name__)


def seed_everything(seed):
    """Seed Python's, NumPy's and PyTorch's global generators (model initialisation,
    augmentation)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_optimizer(cfg, model):
    """SGD, Adam or AdamW; TRAIN.NONBACKBONE_KEYWORDS parameters get an LR multiplier."""
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
    name = cfg.TRAIN.OPTIMIZER.lower()
    if name == "sgd":
        return torch.optim.SGD(
            groups,
            lr=cfg.TRAIN.LR,
            momentum=cfg.TRAIN.MOMENTUM,
            weight_decay=cfg.TRAIN.WD,
            nesterov=cfg.TRAIN.NESTEROV,
        )
    if name in ("adam", "adamw"):
        optimizer = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return optimizer(groups, lr=cfg.TRAIN.LR, weight_decay=cfg.TRAIN.WD)
    raise ValueError(f"TRAIN.OPTIMIZER is {cfg.TRAIN.OPTIMIZER!r}; expected sgd, adam or adamw")


def autocast(device, enabled):
    """Mixed precision: fp16 on CUDA, bf16 on the CPU."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def to_device(images, labels, device):
    """uint8 image batch -> normalised float input on `device`; labels -> int64 on `device`."""
    images = datasets.normalize(images.to(device, non_blocking=True))
    return images, labels.to(device, non_blocking=True).long()


class Trainer:
    """Everything a training run holds; `train()` runs it from where the last checkpoint stopped.

    The global generators are seeded with `seed` + rank first, so a run's initialisation and
    augmentation follow its seed alone; the data order follows `seed` and the epoch.
    """

    def __init__(self, cfg, dist, output_dir, tensorboard_dir=None, seed=304):
        seed_everything(seed + dist.rank)
        self.cfg = cfg
        self.dist = dist
        self.device = dist.device
        self.output_dir = output_dir
        self.amp = cfg.TRAIN.AMP
        self.num_classes = cfg.DATASET.NUM_CLASSES
        self.ignore_label = cfg.TRAIN.IGNORE_LABEL

        self.train_set = datasets.build_dataset(cfg, "train")
        self.extra_set = None
        if cfg.TRAIN.EXTRA_EPOCH > 0:
            split = "extra_train" if cfg.DATASET.EXTRA_TRAIN_SET else "train"
            self.extra_set = datasets.build_dataset(cfg, split)
        self.val_set = datasets.build_dataset(cfg, "val")

        model = models.build_model(cfg).to(self.device)
        if dist.distributed and self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.net = model
        if dist.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=device_ids)
        self.model = model

        weights = cfg.DATASET.CLASS_WEIGHTS or self.train_set.class_weights
        self.criterion = build_criterion(cfg, class_weights=weights).to(self.device)
        self.optimizer = build_optimizer(cfg, self.net)
        use_scaler = self.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

        batch = cfg.TRAIN.BATCH_SIZE_PER_GPU
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

        self.run_log = RunLog(
            output_dir,
            tensorboard_dir,
            self.val_set.class_names,
            palette_for(cfg),
            self.ignore_label,
            enabled=dist.is_main,
        )

        self.start_epoch, self.start_iter, self.best_miou = 0, 0, 0.0
        self.checkpoint_path = output_dir / ckpt.CHECKPOINT
        if dist.is_main:
            ckpt.remove_stale_temporaries(output_dir)
        if (cfg.AUTO_RESUME or cfg.TRAIN.RESUME) and self.checkpoint_path.is_file():
            self.start_epoch, self.start_iter, self.best_miou = ckpt.load_checkpoint(
                self.checkpoint_path, self.net, self.optimizer, self.scaler
            )
            logger.info(
                "=> resumed from %s at epoch %d, iteration %d (best mIoU %.4f)",
                self.checkpoint_path,
                self.start_epoch,
                self.start_iter,
                self.best_miou,
            )

    @property
    def end_epoch(self):
        return self.cfg.TRAIN.END_EPOCH + self.cfg.TRAIN.EXTRA_EPOCH

    def phase(self, epoch):
        """(loader, base LR, epoch index within the phase, epochs in the phase) of `epoch`."""
        train = self.cfg.TRAIN
        if epoch < train.END_EPOCH:
            return self.train_loader, train.LR, epoch, train.END_EPOCH
        return self.extra_loader, train.EXTRA_LR, epoch - train.END_EPOCH, train.EXTRA_EPOCH

    def steps_before(self, epoch):
        """Optimizer steps of the epochs before `epoch` (the extra phase has its own loader)."""
        main = min(epoch, self.cfg.TRAIN.END_EPOCH)
        steps = main * self.train_loader.sampler.batches_per_epoch
        if epoch > main:
            steps += (epoch - main) * self.extra_loader.sampler.batches_per_epoch
        return steps

    def train(self):
        """Run every remaining epoch, validating and checkpointing as configured."""
        start = time.time()
        self.run_log.config(self.cfg.dump(), self.steps_before(self.start_epoch) + self.start_iter)
        for epoch in range(self.start_epoch, self.end_epoch):
            self.train_epoch(epoch, self.start_iter)
            self.start_iter = 0
            last = epoch + 1 == self.end_epoch
            if (epoch + 1) % max(1, self.cfg.TRAIN.EVAL_EVERY) == 0 or last:
                self.evaluate(epoch)
            if self.dist.is_main:
                ckpt.save_checkpoint(
                    self.checkpoint_path,
                    self.net,
                    self.optimizer,
                    epoch + 1,
                    0,
                    self.best_miou,
                    self.scaler,
                )
                if self.cfg.TRAIN.EPOCH_SNAPSHOTS:
                    keep = self.cfg.TRAIN.EPOCH_SNAPSHOTS
                    ckpt.save_epoch_snapshot(self.output_dir, epoch, self.net, keep)
        if self.dist.is_main:
            ckpt.atomic_save(ckpt.network_state(self.net), self.output_dir / ckpt.FINAL)
            logger.info("Hours: %.2f", (time.time() - start) / 3600)
            logger.info("Done. Outputs in %s", self.output_dir)
        self.run_log.close()
        barrier()

    def train_epoch(self, epoch, start_iter=0):
        cfg = self.cfg
        loader, base_lr, phase_epoch, phase_epochs = self.phase(epoch)
        iters = loader.sampler.batches_per_epoch
        loader.sampler.set_epoch(epoch, skip_batches=start_iter)
        self.model.train()
        bar = progress_bar(
            total=iters,
            initial=start_iter,
            desc=f"epoch {epoch + 1}/{self.end_epoch}",
            enabled=self.dist.is_main,
        )
        loss_sum, loss_count = 0.0, 0
        for i, (images, labels, *_rest) in enumerate(loader, start=start_iter):
            lr = lr_at(base_lr, phase_epoch * iters + i, phase_epochs * iters)
            set_lr(self.optimizer, lr)
            loss = self.step(images, labels)
            loss_sum, loss_count = loss_sum + loss, loss_count + 1
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
            bar.update()
            if (i + 1) % cfg.PRINT_FREQ == 0:
                self.run_log.train_step(
                    epoch + 1,
                    self.end_epoch,
                    i + 1,
                    iters,
                    self.steps_before(epoch) + i + 1,
                    learning_rates(self.optimizer),
                    loss_sum / loss_count,
                )
            every = cfg.TRAIN.CHECKPOINT_EVERY
            if every and (i + 1) % every == 0 and i + 1 < iters and self.dist.is_main:
                ckpt.save_checkpoint(
                    self.checkpoint_path,
                    self.net,
                    self.optimizer,
                    epoch,
                    i + 1,
                    self.best_miou,
                    self.scaler,
                )
        bar.close()
        if loss_count:
            self.run_log.epoch_loss(epoch + 1, loss_sum / loss_count)

    def step(self, images, labels):
        """One optimisation step; returns the loss averaged over processes."""
        images, labels = to_device(images, labels, self.device)
        with autocast(self.device, self.amp):
            outputs = self.model(images)
        loss = self.criterion(
            [o.float() for o in outputs] if isinstance(outputs, list) else outputs.float(), labels
        )
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.cfg.TRAIN.CLIP_GRAD > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.TRAIN.CLIP_GRAD)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        reduced = all_reduce_sum(loss.detach().clone()) / self.dist.world_size
        if not math.isfinite(reduced.item()):
            raise FloatingPointError(f"the training loss became {reduced.item()}; lower TRAIN.LR")
        return reduced.item()

    def evaluate(self, epoch):
        """Validate, log the scores, and write best.pth on a new best mIoU."""
        loss, scores = validate(
            self.model,
            self.criterion,
            self.val_loader,
            self.device,
            self.num_classes,
            self.ignore_label,
            self.cfg.MODEL.ALIGN_CORNERS,
            self.cfg.TEST.OUTPUT_INDEX,
            self.amp,
            on_batch=self.run_log.keep_samples,
            progress=self.dist.is_main,
        )
        miou = scores["mIoU"]
        if miou > self.best_miou and self.dist.is_main:
            self.best_miou = miou
            ckpt.atomic_save(ckpt.network_state(self.net), self.output_dir / ckpt.BEST)
        self.best_miou = max(self.best_miou, miou)
        self.run_log.validation(
            epoch + 1, self.steps_before(epoch + 1), loss, scores, self.best_miou
        )
        return scores


def validate(
    model,
    criterion,
    loader,
    device,
    num_classes,
    ignore_label,
    align_corners,
    output_index,
    amp=False,
    on_batch=None,
    progress=False,
):
    """Single-scale validation; the loss and the confusion matrix are summed over processes.

    Returns the loss and `segmentation_scores` plus the matrix itself (`confusion`).
    `on_batch(images, labels, predictions)` sees every batch (uint8 images as loaded).
    """
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64, device=device)
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad():
        for raw_images, labels, *_rest in progress_bar(
            loader, progress, desc="validate", leave=False
        ):
            images, labels = to_device(raw_images, labels, device)
            with autocast(device, amp):
                outputs = model(images)
            outputs = [o.float() for o in outputs] if isinstance(outputs, list) else outputs.float()
            totals += torch.tensor(
                [criterion(outputs, labels).item() * len(images), len(images)], device=device
            )
            logits = outputs[output_index] if isinstance(outputs, list) else outputs
            logits = F.interpolate(
                logits, size=labels.shape[-2:], mode="bilinear", align_corners=align_corners
            )
            prediction = logits.max(1).indices  # = argmax(1), faster on CPUs (core.function)
            confusion += confusion_matrix(labels, prediction, num_classes, ignore_label).to(
                confusion
            )
            if on_batch is not None:
                on_batch(raw_images, labels, prediction)
    all_reduce_sum(confusion)
    all_reduce_sum(totals)
    confusion = confusion.cpu().numpy()
    scores = {**segmentation_scores(confusion), "confusion": confusion}
    return (totals[0] / totals[1].clamp(min=1)).item(), scores
