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
from tqdm import tqdm

import datasets
import models
from core.criterion import build_criterion
from core.data import eval_loader, train_loader
from core.lr_schedule import lr_at, set_lr
from utils import checkpoint as ckpt
from utils.distributed import all_reduce_sum, barrier
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
    groups = [{"params": backbone, "lr_mult": 1.0}]
    if head:
        groups.append({"params": head, "lr_mult": float(cfg.TRAIN.NONBACKBONE_MULT)})
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

        self.writer = None
        if dist.is_main and tensorboard_dir is not None:
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))

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

    def train(self):
        """Run every remaining epoch, validating and checkpointing as configured."""
        start = time.time()
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
        if self.dist.is_main:
            ckpt.atomic_save(ckpt.network_state(self.net), self.output_dir / ckpt.FINAL)
            logger.info("Hours: %.2f", (time.time() - start) / 3600)
            logger.info("Done. Outputs in %s", self.output_dir)
        if self.writer is not None:
            self.writer.close()
        barrier()

    def train_epoch(self, epoch, start_iter=0):
        cfg = self.cfg
        loader, base_lr, phase_epoch, phase_epochs = self.phase(epoch)
        iters = loader.sampler.batches_per_epoch
        loader.sampler.set_epoch(epoch, skip_batches=start_iter)
        self.model.train()
        bar = tqdm(
            total=iters,
            initial=start_iter,
            desc=f"epoch {epoch + 1}/{self.end_epoch}",
            disable=not self.dist.is_main,
            dynamic_ncols=True,
        )
        loss_sum, loss_count = 0.0, 0
        for i, (images, labels, *_rest) in enumerate(loader, start=start_iter):
            lr = lr_at(base_lr, phase_epoch * iters + i, phase_epochs * iters)
            set_lr(self.optimizer, lr)
            loss = self.step(images, labels)
            loss_sum, loss_count = loss_sum + loss, loss_count + 1
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
            bar.update()
            global_step = epoch * iters + i
            if self.dist.is_main and (i + 1) % cfg.PRINT_FREQ == 0:
                logger.info(
                    "Epoch: [%d/%d] Iter:[%d/%d], lr: %.6g, Loss: %.6f",
                    epoch + 1,
                    self.end_epoch,
                    i + 1,
                    iters,
                    lr,
                    loss_sum / loss_count,
                )
                if self.writer is not None:
                    self.writer.add_scalar("train_loss", loss_sum / loss_count, global_step)
                    self.writer.add_scalar("learning_rate", lr, global_step)
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
        if self.writer is not None and loss_count:
            self.writer.add_scalar("train_loss_epoch", loss_sum / loss_count, epoch)

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
        )
        miou = scores["mIoU"]
        if miou > self.best_miou and self.dist.is_main:
            self.best_miou = miou
            ckpt.atomic_save(ckpt.network_state(self.net), self.output_dir / ckpt.BEST)
        self.best_miou = max(self.best_miou, miou)
        logger.info("Loss: %.3f, MeanIU: %.4f, Best_mIoU: %.4f", loss, miou, self.best_miou)
        logger.info("IoU per class: %s", " ".join(f"{v:.4f}" for v in scores["IoU"]))
        if self.writer is not None:
            self.writer.add_scalar("valid_loss", loss, epoch)
            self.writer.add_scalar("valid_mIoU", miou, epoch)
            for index, value in enumerate(scores["IoU"]):
                self.writer.add_scalar(f"valid_IoU/class_{index:03d}", value, epoch)
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
):
    """Single-scale validation; the loss and the confusion matrix are summed over processes."""
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64, device=device)
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad():
        for images, labels, *_rest in loader:
            images, labels = to_device(images, labels, device)
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
    all_reduce_sum(confusion)
    all_reduce_sum(totals)
    return (totals[0] / totals[1].clamp(min=1)).item(), segmentation_scores(confusion.cpu().numpy())
