"""glibc's allocator settings for processes that allocate large blocks over and over.

Call `set_allocator_options()` once at start-up of every entry point (every tool does): glibc
otherwise gives large freed blocks, such as the activations of a forward pass, back to the OS
and page-faults them in again on the next use (eager fp32 at 1024x2048 on 2 CPU threads
measured 1.20x slower for W48 and 1.86x for W18-Small-v2; README.md, tools/benchmark.py
--allocator).
"""

import ctypes
import ctypes.util
import sys

__all__ = ["set_allocator_options"]

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def set_allocator_options():
    """Keep freed memory in the process (glibc only; elsewhere a no-op). Returns whether set.

    Blocks above the mmap threshold are unmapped on free, and some glibc versions refuse a
    threshold above 32 MiB (less than one 1024x2048 activation), so mmap is switched off
    altogether; the heap is never trimmed. The process keeps its peak memory, which the next
    forward pass needs again anyway.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (musl and others lack it: not glibc)
    except (OSError, AttributeError):
        return False
    trim = libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    mmap = libc.mallopt(_M_MMAP_MAX, 0)
    return bool(trim and mmap)
