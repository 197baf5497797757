"""Samplers and loaders: deterministic, sharded across processes, resumable mid-epoch."""

import functools
import logging
import os

import cv2
import torch
from torch.utils.data import DataLoader, Sampler

logger = logging.getLogger(__name__)


class TrainSampler(Sampler):
    """Shuffled (seed + epoch) indices, cut to whole global batches and sharded by rank.

    Process `rank` of `world_size` takes every `world_size`-th index, so one global batch of
    `batch_size * world_size` holds the same samples as one single-process batch of that size.
    `set_epoch(epoch, skip_batches)` resumes inside an epoch.
    """

    def __init__(self, num_samples, batch_size, world_size=1, rank=0, shuffle=True, seed=0):
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.skip_batches = 0
        self.batches_per_epoch = num_samples // (batch_size * world_size)

    def set_epoch(self, epoch, skip_batches=0):
        self.epoch = epoch
        self.skip_batches = skip_batches

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.arange(self.num_samples)
        order = order[: self.batches_per_epoch * self.batch_size * self.world_size]
        mine = order[self.rank :: self.world_size]
        return iter(mine[self.skip_batches * self.batch_size :].tolist())

    def __len__(self):
        return (self.batches_per_epoch - self.skip_batches) * self.batch_size


class ShardSampler(Sampler):
    """Every `world_size`-th index from `rank`, in order; no sample is repeated or dropped."""

    def __init__(self, num_samples, world_size=1, rank=0):
        self.indices = list(range(rank, num_samples, world_size))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def stack_padded(tensors, fill):
    """Stack tensors of different heights / widths, padding bottom and right with `fill`."""
    height = max(t.shape[-2] for t in tensors)
    width = max(t.shape[-1] for t in tensors)
    batch = tensors[0].new_full((len(tensors), *tensors[0].shape[:-2], height, width), fill)
    for i, t in enumerate(tensors):
        batch[i, ..., : t.shape[-2], : t.shape[-1]] = t
    return batch


def pad_collate(ignore_label):
    """Batch samples of different sizes: pad images with 0 and labels with `ignore_label`.

    Image-only samples (empty labels) give an empty (B, 0, 0) label batch.
    """

    def collate(samples):
        images, labels, sizes, names = zip(*samples, strict=True)
        if all(label.numel() == 0 for label in labels):
            label_batch = torch.empty((len(labels), 0, 0), dtype=torch.int64)
        else:
            label_batch = stack_padded(labels, ignore_label)
        return stack_padded(images, 0), label_batch, list(sizes), list(names)

    return collate


def available_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def loader_workers(workers):
    """WORKERS, lowered to the CPUs available (with one log line per value) instead of
    PyTorch's warning for every loader of every run."""
    cpus = available_cpus()
    if workers <= cpus:
        return workers
    logger.info("WORKERS %d lowered to %d: the CPUs available to this process", workers, cpus)
    return cpus


def _worker_init(worker_id):
    # Each worker is already one of several processes: OpenCV's own thread pool only competes.
    cv2.setNumThreads(1)


def train_loader(dataset, batch_size, workers, pin_memory, world_size, rank, shuffle, seed):
    sampler = TrainSampler(len(dataset), batch_size, world_size, rank, shuffle, seed)
    if sampler.batches_per_epoch == 0:
        raise ValueError(
            f"the training list has {len(dataset)} samples, fewer than one global batch of "
            f"{batch_size * world_size} (TRAIN.BATCH_SIZE_PER_GPU x processes)"
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=loader_workers(workers),
        pin_memory=pin_memory,
        drop_last=True,
        worker_init_fn=_worker_init,
        # Its own generator: creating an iterator must not draw from the global torch RNG,
        # so a resumed run continues with exactly the random state it saved.
        generator=torch.Generator().manual_seed(seed),
    )


def eval_loader(dataset, batch_size, workers, pin_memory, world_size, rank, ignore_label):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ShardSampler(len(dataset), world_size, rank),
        num_workers=loader_workers(workers),
        pin_memory=pin_memory,
        collate_fn=pad_collate(ignore_label),
        worker_init_fn=_worker_init,
    )
