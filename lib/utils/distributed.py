"""Process-group set-up from torchrun's environment, and the few collectives training needs.

`torchrun` (and `python -m torch.distributed.launch`) set `RANK`, `LOCAL_RANK` and `WORLD_SIZE`;
without them the run is a single process. NCCL is used on CUDA, gloo on the CPU.
"""

import atexit
import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from utils.errors import ConfigError, OtherProcessFailed, UserError


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
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ConfigError(f"--device {name}: expected cpu, cuda or cuda:N") from None
        if device.type not in ("cpu", "cuda"):
            raise ConfigError(f"--device {name}: expected cpu, cuda or cuda:N")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"--device {name}: this PyTorch sees no CUDA GPU (a CPU-only build, or no "
                "driver); use --device cpu"
            )
        count = torch.cuda.device_count() if device.type == "cuda" else 0
        if device.type == "cuda" and device.index is not None and device.index >= count:
            raise ConfigError(f"--device {name}: there are {count} GPU(s), cuda:0..{count - 1}")
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
        store, rank, world_size = next(dist.rendezvous("env://"))
        # torchrun --max-restarts keeps one store for every attempt; a restarted process group
        # reading the dead attempt's addresses never connects, so each attempt has its keys.
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        store = dist.PrefixStore(f"hrnet_attempt_{attempt}", store)
        dist.init_process_group(backend, store=store, rank=rank, world_size=world_size)
        # A model wrapped in DistributedDataParallel lives in reference cycles (after an error,
        # also in the traceback's frames) until a garbage collection; left for the interpreter's
        # shutdown, its gloo work can abort the process (SIGABRT). Collect while it is alive.
        atexit.register(gc.collect)
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


@contextmanager
def together():
    """Run a block on every process of the job: when it raises a `UserError` on some of them,
    it stops all of them (no process is left waiting in a collective). The failing processes
    raise their own error, the others `OtherProcessFailed`. Without a process group it is a plain
    block."""
    error = None
    try:
        yield
    except UserError as caught:
        if not dist.is_initialized():
            raise
        error = caught
    if not dist.is_initialized():
        return
    failed = all_reduce_sum(torch.tensor([float(error is not None)]))
    if error is not None:
        raise error
    if failed.item():
        raise OtherProcessFailed("another process of this job stopped with an error")


def broadcast_buffers(module):
    """Rank 0's buffers of `module` (BatchNorm running statistics) on every process, in place.

    DDP copies them from rank 0 only at the start of a training forward; each process's own
    batch then updates its copy (per-process BatchNorm on CPUs), so before validation the
    processes would evaluate different models, none of them the one rank 0 saves.
    """
    if not dist.is_initialized():
        return
    by_dtype = {}
    for buffer in module.buffers():
        by_dtype.setdefault(buffer.dtype, []).append(buffer)
    for buffers in by_dtype.values():  # one collective per dtype, not one per buffer
        flat = torch.cat([buffer.reshape(-1) for buffer in buffers])
        dist.broadcast(flat, src=0)
        for buffer, value in zip(buffers, flat.split([b.numel() for b in buffers]), strict=True):
            buffer.copy_(value.view_as(buffer))


def broadcast_object(obj):
    """`obj` of rank 0 on every process (a picklable object, e.g. bytes)."""
    if not dist.is_initialized():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
