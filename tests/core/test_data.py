"""Samplers: sharding equals single-process batches; resuming skips exactly what was done.
Loaders: spawned workers (macOS's and Windows' default) work; workers end with their process."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import datasets
from config import load_config
from core.data import Loader, ShardSampler, TrainSampler, _end_with, pad_collate, train_loader
from helpers.dataset_files import smooth_image, write_pairs
from helpers.paths import REPO
from helpers.tiny_run import write_tiny_run
from helpers.tools import alive, kill_survivors
from utils.errors import DataError


def test_two_ranks_see_the_single_process_global_batches():
    single = list(TrainSampler(23, batch_size=4, world_size=1, seed=5))
    ranks = [list(TrainSampler(23, batch_size=2, world_size=2, rank=r, seed=5)) for r in (0, 1)]
    assert len(single) == 20 and all(len(r) == 10 for r in ranks)
    for b in range(5):
        global_batch = single[4 * b : 4 * b + 4]
        assert sorted(ranks[0][2 * b : 2 * b + 2] + ranks[1][2 * b : 2 * b + 2]) == sorted(
            global_batch
        )


def test_epochs_shuffle_differently_and_resume_skips_done_batches():
    sampler = TrainSampler(12, batch_size=3, seed=1)
    sampler.set_epoch(0)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert all(key[1:] == (1, 0) for key in epoch0) and all(k[1:] == (1, 1) for k in epoch1)
    order0, order1 = [k[0] for k in epoch0], [k[0] for k in epoch1]
    assert sorted(order0) == sorted(order1) and order0 != order1
    sampler.set_epoch(1, skip_batches=2)
    assert list(sampler) == epoch1[6:] and len(sampler) == 6


def test_shards_cover_every_sample_once():
    shards = [[key[0] for key in ShardSampler(7, world_size=3, rank=r)] for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(7))


def test_shard_keys_carry_the_seed_and_epoch_of_the_random_validation_crops():
    sampler = ShardSampler(4, world_size=2, rank=1)
    assert list(sampler) == [(1, 0, 0), (3, 0, 0)]
    sampler.set_epoch(5, seed=304)
    assert list(sampler) == [(1, 304, 5), (3, 304, 5)] and len(sampler) == 2


def test_pad_collate_pads_images_with_zero_and_labels_with_ignore():
    a = (torch.ones(3, 2, 3, dtype=torch.uint8), torch.zeros(2, 3, dtype=torch.long), (2, 3), "a")
    b = (torch.ones(3, 4, 2, dtype=torch.uint8), torch.ones(4, 2, dtype=torch.long), (4, 2), "b")
    images, labels, sizes, names = pad_collate(255)([a, b])
    assert images.shape == (2, 3, 4, 3) and labels.shape == (2, 4, 3)
    assert images[0, :, 2:].sum() == 0 and (labels[0, 2:] == 255).all()
    assert (labels[1, :, 2] == 255).all() and names == ["a", "b"]


def test_workers_above_the_cpus_are_lowered_with_one_log_line(monkeypatch, caplog):
    from core import data

    monkeypatch.setattr(data, "available_cpus", lambda: 2)
    data.loader_workers.cache_clear()
    try:
        with caplog.at_level("INFO", logger="core.data"):
            assert data.loader_workers(8) == 2
            assert data.loader_workers(8) == 2
            assert data.loader_workers(2) == 2
            assert data.loader_workers(0) == 0
    finally:
        data.loader_workers.cache_clear()
    assert [r.getMessage() for r in caplog.records] == [
        "WORKERS 8 lowered to 2: the CPUs available to this process"
    ]


# A loader whose one worker blocks in the second sample, which it prefetches while the process
# takes the first batch; the process kills itself with SIGKILL once the worker is blocked.
KILLED_WHILE_LOADING = """
import os, signal, sys, time
import torch
from core.data import Loader

class Stuck(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        if index == 0:
            return torch.zeros(1)
        with open(sys.argv[1] + ".tmp", "w") as file:
            file.write(str(os.getpid()))
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(600)

batches = iter(Loader(Stuck(), num_workers=1))
first = next(batches)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_killed_process_takes_its_loader_workers_with_it(tmp_path):
    pid_file = tmp_path / "worker.pid"
    env = {**os.environ, "PYTHONPATH": str(REPO / "lib")}
    script = textwrap.dedent(KILLED_WHILE_LOADING)
    done = subprocess.run([sys.executable, "-c", script, str(pid_file)], env=env, timeout=60)
    assert done.returncode == -signal.SIGKILL
    worker = int(pid_file.read_text())
    left = kill_survivors(lambda: [worker] if alive(worker) else [])
    assert not left, "the DataLoader worker outlived the process that made it"


def test_a_worker_whose_parent_is_already_gone_leaves_at_once():
    """The parent killed before the worker started: PyTorch's worker would wait forever."""

    def worker_of_a_dead_parent():
        _end_with(-1, worker_id=0)  # no process has pid -1: the parent is gone
        sys.exit(3)

    process = multiprocessing.get_context("fork").Process(target=worker_of_a_dead_parent)
    process.start()
    process.join(timeout=30)
    assert process.exitcode == 0


def test_spawned_workers_give_the_batches_of_the_process_itself(tmp_path):
    """Everything a worker receives pickles: spawn is the default start method on macOS."""
    cfg = load_config(str(write_tiny_run(tmp_path, num_val=3, size=32)))
    dataset = datasets.build_dataset(cfg, "val")

    def batches(**workers):
        return list(Loader(dataset, batch_size=2, collate_fn=pad_collate(255), **workers))

    spawned = batches(num_workers=1, multiprocessing_context="spawn")
    for (image, label, *rest), (expected_image, expected_label, *expected) in zip(
        spawned, batches(num_workers=0), strict=True
    ):
        assert torch.equal(image, expected_image) and torch.equal(label, expected_label)
        assert rest == expected


def test_a_training_batch_of_whole_images_of_two_sizes_is_one_clear_error(tmp_path):
    pairs = [
        (f"img/{n}.png", smooth_image(h, w), f"lbl/{n}.png", np.zeros((h, w), np.uint8))
        for n, (h, w) in enumerate([(20, 30), (20, 30), (16, 24), (20, 30)])
    ]
    write_pairs(tmp_path, pairs)
    dataset = datasets.BaseDataset(tmp_path, "train.lst", 2, crop_size=(8, 8), multi_scale=False)
    for workers in (0, 1):
        loader = train_loader(dataset, 2, workers, False, 1, 0, False, 0)
        with pytest.raises(DataError, match=r"different sizes \(16x24, 20x30\).*MULTI_SCALE"):
            list(loader)
    cropped = datasets.BaseDataset(tmp_path, "train.lst", 2, crop_size=(8, 8), base_size=30)
    images = [batch[0] for batch in train_loader(cropped, 2, 0, False, 1, 0, False, 0)]
    assert [tuple(b.shape) for b in images] == [(2, 3, 8, 8)] * 2
