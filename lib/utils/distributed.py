"""Process-group set-up from torchrun's environment, and the few collectives training needs.

`torchrun` (and `python -m torch.distributed.launch`) set `RANK`, `LOCAL_RANK` and `WORLD_SIZE`;
without them the run is a single process. NCCL is used on CUDA, gloo on the CPU.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank, the world size and its device."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def distributed(self):
        return self.world_size > 1

    @property
    def is_main(self):
        return self.rank == 0


def pick_device(name=None, local_rank=0):
    """`name` ('cpu', 'cuda', 'cuda:1') or the best available: this process's GPU, else the CPU."""
    if name:
        device = torch.device(name)
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


def init(device=None, local_rank=None):
    """Read the launcher's environment, pick the device and join the process group if needed.

    `local_rank` is the value of the legacy `--local_rank` flag; `LOCAL_RANK` wins when set.
    """
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    local_rank = int(os.environ.get("LOCAL_RANK", local_rank if local_rank is not None else 0))
    device = pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size, device=device)


def cleanup():
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier():
    if dist.is_initialized():
        dist.barrier()


def all_reduce_sum(tensor):
    """Sum `tensor` over all processes in place (no-op in a single process); returns it.

    NCCL reduces CUDA tensors only: a CPU tensor makes a round trip through this process's GPU.
    """
    if not dist.is_initialized():
        return tensor
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        on_device = tensor.to(torch.device("cuda", torch.cuda.current_device()))
        dist.all_reduce(on_device, op=dist.ReduceOp.SUM)
        return tensor.copy_(on_device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
