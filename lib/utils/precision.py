"""Reduced precision: which type a device computes in under autocast, and whether it is native.

The one rule for training and inference (`autocast_dtype`): a requested type as asked; else
float16 on CUDA and bfloat16 elsewhere (CPUs), except that a caller that wants speed only
(`native_only`) gets float32 (None) on a CPU without native bfloat16, where bfloat16 is slower.
"""

import logging

import torch

from utils.errors import ConfigError

__all__ = ["DTYPES", "autocast", "autocast_dtype", "native_bf16"]

logger = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device, dtype, cache=True):
    """Autocast to `dtype` on `device`'s type; off when `dtype` is None. `cache=False`: no
    low-precision copies of the weights kept for the whole forward pass."""
    return torch.autocast(
        torch.device(device).type, dtype=dtype, enabled=dtype is not None, cache_enabled=cache
    )


def autocast_dtype(device, requested="", native_only=False, key="TRAIN.AMP_DTYPE"):
    """The mixed-precision type of `device` (None: float32).

    `requested` 'bf16' or 'fp16' gives that type; '' the device's: float16 on CUDA, bfloat16
    on the CPU, or with `native_only` None (with a warning) on a CPU whose bfloat16 is emulated.
    Another name is a ConfigError naming `key`, the setting it came from.
    """
    if requested:
        if requested not in DTYPES:
            raise ConfigError(
                f"{key} is {requested!r}; expected '' (the device's type), {' or '.join(DTYPES)}"
            )
        return DTYPES[requested]
    if torch.device(device).type == "cuda":
        return torch.float16
    if native_only and not native_bf16(device):
        logger.warning(
            "mixed precision: this %s has no native bfloat16 arithmetic (slower than float32 "
            "here); computing in float32 (%s bf16 forces bfloat16)",
            torch.device(device).type.upper(),
            key,
        )
        return None
    return torch.bfloat16


def native_bf16(device):
    """Whether `device` has bfloat16 arithmetic in hardware: on CPUs, AVX512-BF16 or AMX (without
    them PyTorch emulates it, slower than float32); on CUDA, compute capability 8.0 or higher."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return device.type == "cpu" and bool(cpu_bf16_instructions())


def cpu_bf16_instructions():
    """The names of this CPU's instruction sets that compute bfloat16 in hardware (AMX,
    AVX512-BF16); empty where PyTorch would emulate it."""
    checks = {"AMX": "_is_amx_tile_supported", "AVX512-BF16": "_is_avx512_bf16_supported"}
    return [name for name, check in checks.items() if getattr(torch.cpu, check, lambda: False)()]
