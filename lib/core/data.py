"""Samplers and loaders: deterministic, sharded across processes, resumable mid-epoch."""

import torch
from torch.utils.data import DataLoader, Sampler


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


def pad_collate(ignore_label):
    """Batch samples of different sizes: pad images with 0 and labels with `ignore_label`."""

    def collate(samples):
        images, labels, sizes, names = zip(*samples, strict=True)
        height = max(image.shape[-2] for image in images)
        width = max(image.shape[-1] for image in images)
        image_batch = images[0].new_zeros((len(images), images[0].shape[0], height, width))
        label_batch = labels[0].new_full((len(labels), height, width), ignore_label)
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            image_batch[i, :, : image.shape[-2], : image.shape[-1]] = image
            label_batch[i, : label.shape[-2], : label.shape[-1]] = label
        return image_batch, label_batch, list(sizes), list(names)

    return collate


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
        num_workers=workers,
        pin_memory=pin_memory,
        drop_last=True,
        persistent_workers=False,
    )


def eval_loader(dataset, batch_size, workers, pin_memory, world_size, rank, ignore_label):
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ShardSampler(len(dataset), world_size, rank),
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=pad_collate(ignore_label),
    )
