"""Samplers and loaders: deterministic, sharded across processes, resumable mid-epoch.

A dataset error in a DataLoader worker (a `UserError`: a missing file, a bad label) reaches the
training process as itself, with its one-line message, not as PyTorch's wrapped traceback.
"""

import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys

import cv2
import torch
from torch.utils.data import DataLoader, Sampler

from utils.errors import DataError, UserError

logger = logging.getLogger(__name__)


class TrainSampler(Sampler):
    """Shuffled (seed + epoch) indices, cut to whole global batches and sharded by rank.

    Process `rank` of `world_size` takes every `world_size`-th index, so one global batch of
    `batch_size * world_size` holds the same samples as one single-process batch of that size.
    It yields `(index, seed, epoch)` keys: the dataset draws each sample's augmentation from
    them, so it does not depend on the process, the worker or a resume.
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
        kept = mine[self.skip_batches * self.batch_size :].tolist()
        return iter([(index, self.seed, self.epoch) for index in kept])

    def __len__(self):
        return (self.batches_per_epoch - self.skip_batches) * self.batch_size


class ShardSampler(Sampler):
    """Every `world_size`-th index from `rank`, in order; no sample is repeated or dropped. It
    yields (index, seed, epoch) keys, as `TrainSampler`: a dataset's random validation crops
    (TEST.VAL_PREPARATION original) are drawn anew each epoch, the same in every process."""

    def __init__(self, num_samples, world_size=1, rank=0):
        self.indices = list(range(rank, num_samples, world_size))
        self.seed = self.epoch = 0

    def set_epoch(self, epoch, seed=0):
        self.epoch, self.seed = int(epoch), int(seed)

    def __iter__(self):
        return ((index, self.seed, self.epoch) for index in self.indices)

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
    return functools.partial(_collate_padded, ignore_label=ignore_label)


def _collate_padded(samples, ignore_label):
    images, labels, sizes, names = zip(*samples, strict=True)
    if all(label.numel() == 0 for label in labels):
        label_batch = torch.empty((len(labels), 0, 0), dtype=torch.int64)
    else:
        label_batch = stack_padded(labels, ignore_label)
    return stack_padded(images, 0), label_batch, list(sizes), list(names)


def collate_training(samples):
    """Stack training samples, which must be of one size (one line naming the sizes if not)."""
    sizes = sorted({tuple(image.shape[-2:]) for image, *_ in samples})
    if len(sizes) > 1:
        shown = ", ".join(f"{h}x{w}" for h, w in sizes[:4])
        raise DataError(
            f"a training batch holds images of different sizes ({shown}): with "
            "TRAIN.MULTI_SCALE False images are used whole, as the original; use images of one "
            "size, TRAIN.BATCH_SIZE_PER_GPU 1, or TRAIN.MULTI_SCALE True (crops of "
            "TRAIN.IMAGE_SIZE)"
        )
    return torch.utils.data.default_collate(samples)


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


class _Failed:
    """A `UserError` raised while loading a sample, carried to the training process as data
    (PyTorch would re-raise it wrapped in a multi-line worker traceback)."""

    def __init__(self, error):
        self.error = error


class _Guarded:
    """A dataset whose items are `_Failed` instead of raising a `UserError`; its other
    attributes are the dataset's (`loader.dataset.prediction_crop`)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __getattr__(self, name):
        if name == "dataset":  # not set yet (unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        try:
            return self.dataset[key]
        except UserError as error:
            return _Failed(error)


def _collate_or_fail(collate, samples):
    failed = [s for s in samples if isinstance(s, _Failed)]
    if failed:
        return failed[0]
    try:
        return collate(samples)
    except UserError as error:
        return _Failed(error)


def _end_with(parent_pid, worker_id):
    """Worker start: end this worker when its parent, process `parent_pid`, ends.

    PyTorch's worker notices a dead parent only if the parent was alive when the worker started
    (kill -9 or the OOM killer can strike in between): an orphan waits forever, holding the
    parent's stdout. On Linux the kernel kills the worker when the thread that forked it ends:
    iterate a Loader from a thread that lives as long as the Loader.
    """
    if sys.platform == "linux":
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(0)


def _workers_are_children(context):
    """Whether DataLoader workers started by `context` (None: the default) are children of this
    process: yes for fork and spawn; forkserver's are the server's."""
    if context is not None:
        method = context.get_start_method()
    else:
        method = multiprocessing.get_start_method(allow_none=True)
        method = method or multiprocessing.get_all_start_methods()[0]
    return method in ("fork", "spawn")


class Loader(DataLoader):
    """A DataLoader over `dataset` that raises a sample's `UserError` itself, from any worker.

    Its workers (fork or spawn) end with the process that made it, even when that one is killed.
    """

    def __init__(self, dataset, collate_fn=None, **options):
        collate = collate_fn or torch.utils.data.default_collate
        super().__init__(
            _Guarded(dataset), collate_fn=functools.partial(_collate_or_fail, collate), **options
        )
        if _workers_are_children(self.multiprocessing_context):
            self.worker_init_fn = functools.partial(_end_with, os.getpid())

    def __iter__(self):
        if self.num_workers > 0:
            # Each worker is already one of several processes: OpenCV's thread pool would only
            # compete. Set here, before the workers are forked: a pool of this process copied
            # into a worker mid-state can deadlock it (cv2.setNumThreads in a worker did).
            cv2.setNumThreads(1)
        for batch in super().__iter__():
            if isinstance(batch, _Failed):
                raise batch.error
            yield batch


def train_loader(dataset, batch_size, workers, pin_memory, world_size, rank, shuffle, seed):
    sampler = TrainSampler(len(dataset), batch_size, world_size, rank, shuffle, seed)
    if sampler.batches_per_epoch == 0:
        raise DataError(
            f"the training list {dataset.list_file} has {len(dataset)} samples, fewer than one "
            f"global batch of {batch_size * world_size} (TRAIN.BATCH_SIZE_PER_GPU {batch_size} "
            f"x {world_size} processes)"
        )
    return Loader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=loader_workers(workers),
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        drop_last=True,
        collate_fn=collate_training,
        # Its own generator: creating an iterator must not draw from the global torch RNG.
        generator=torch.Generator().manual_seed(seed),
    )


def eval_loader(dataset, batch_size, workers, pin_memory, world_size, rank, ignore_label):
    return Loader(
        dataset,
        batch_size=batch_size,
        sampler=ShardSampler(len(dataset), world_size, rank),
        num_workers=loader_workers(workers),
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        collate_fn=pad_collate(ignore_label),
    )
