"""Reduced precision: which type a device computes in under autocast, and whether it is native.

The one rule for training and inference: float16 on CUDA, bfloat16 elsewhere (CPUs).
"""

import torch

__all__ = ["DTYPES", "autocast", "autocast_dtype", "native_bf16"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device, dtype):
    """Autocast to `dtype` on `device`'s type; off when `dtype` is None."""
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)


def autocast_dtype(device):
    """The mixed-precision type of `device`: float16 on CUDA, bfloat16 on the CPU."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16


def native_bf16(device):
    """Whether `device` has bfloat16 arithmetic in hardware: on CPUs, AVX512-BF16 or AMX (without
    them PyTorch emulates it, slower than float32); on CUDA, compute capability 8.0 or higher."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
