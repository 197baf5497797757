"""The Trainer's set-up: a run's random state follows its seed alone."""

import torch
from tiny_run import write_tiny_run

from config import load_config
from core.trainer import Trainer
from utils.distributed import DistInfo


def initial_weights(cfg_file, tmp_path, seed):
    cfg = load_config(str(cfg_file), [])
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
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
