"""Samplers: sharding equals single-process batches; resuming skips exactly what was done."""

import torch

from core.data import ShardSampler, TrainSampler, pad_collate


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
