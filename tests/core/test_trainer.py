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
