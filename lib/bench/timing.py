"""Timing statistics and how busy the machine was while they were taken.

A latency measured while other processes use the CPU can be many times the real one, and
ratios between paths shift as well. `CpuLoad` measures the CPU time that other processes used
during a block (Linux: /proc/stat minus this process's own and its waited-for children's time),
so a benchmark can print it next to its figures and say when they cannot be trusted.
`machine_line` names the processor the figures were taken on: speed-ups of bf16 paths depend on
its bf16 instructions (AVX512-BF16, AMX) as much as on the code.
"""

import os
import platform
import statistics
import time
from pathlib import Path

import torch

from utils import precision

__all__ = ["BUSY_SHARE", "CpuLoad", "machine_line", "summary", "time_interleaved"]

# other processes using more than this share of the machine's CPU time make timings unreliable
BUSY_SHARE = 0.10
PROC_STAT = Path("/proc/stat")
CPU_INFO = Path("/proc/cpuinfo")


def summary(seconds):
    """{"min", "median", "max", "runs"} of a list of durations."""
    seconds = list(seconds)
    if not seconds:
        raise ValueError("no durations to summarise")
    return {
        "min": min(seconds),
        "median": statistics.median(seconds),
        "max": max(seconds),
        "runs": len(seconds),
    }


def time_interleaved(calls, rounds):
    """{name: [seconds per call]}: every function of `calls` ({name: fn}) is called once per
    round, in turn, after one warm-up call each, so a change of machine load affects all alike."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    for _ in range(max(1, int(rounds))):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def _busy_seconds_and_cpus():
    """(CPU seconds spent busy by the whole machine since boot, number of CPUs), or None where
    /proc/stat cannot be read."""
    try:
        lines = PROC_STAT.read_text().splitlines()
    except OSError:
        return None
    fields = [int(v) for v in lines[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    busy = sum(fields[:3]) + sum(fields[5:8])
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return busy / os.sysconf("SC_CLK_TCK"), cpus


def _own_cpu_seconds():
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class CpuLoad:
    """Context manager: the CPU time other processes used while the block ran.

    After the block: `wall` (seconds), `cpus`, `others_cores` (the average number of CPUs kept
    busy by other processes; None where unknown), `others_share` (that over `cpus`) and `busy`
    (True when `others_share` exceeds BUSY_SHARE).
    """

    def __enter__(self):
        self._machine = _busy_seconds_and_cpus()
        self._own = _own_cpu_seconds()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._start
        own = _own_cpu_seconds() - self._own
        after = _busy_seconds_and_cpus()
        if self._machine is None or after is None or self.wall <= 0:
            self.cpus, self.others_cores, self.others_share, self.busy = (
                os.cpu_count(),
                None,
                None,
                False,
            )
            return False
        self.cpus = after[1]
        others = max(0.0, after[0] - self._machine[0] - own)
        self.others_cores = others / self.wall
        self.others_share = self.others_cores / max(1, self.cpus)
        self.busy = self.others_share > BUSY_SHARE
        return False

    def report(self):
        """One line saying how much CPU other processes used; a warning when it was too much."""
        if self.others_cores is None:
            return "load of other processes: unknown on this system (no /proc/stat)"
        line = (
            f"other processes used {self.others_cores:.2f} of {self.cpus} CPUs "
            f"({100 * self.others_share:.0f}%) during the {self.wall:.0f} s of measurement"
        )
        if self.busy:
            line += (
                f"\nWARNING: the machine was busy (more than {100 * BUSY_SHARE:.0f}% of its CPU "
                "time went to other processes): these timings and ratios are unreliable; rerun "
                "on an idle machine"
            )
        return line


def _cpu_name():
    try:
        for line in CPU_INFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line(device="cpu"):
    """One line naming the processor (on CUDA the GPU), its bfloat16 instructions and PyTorch."""
    if torch.device(device).type == "cuda":
        return f"machine: {torch.cuda.get_device_name(device)}; PyTorch {torch.__version__}"
    bf16 = ", ".join(precision.cpu_bf16_instructions()) or "none"
    return (
        f"machine: {_cpu_name()}, {os.cpu_count()} CPUs, bfloat16 in hardware: {bf16}; "
        f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads"
    )
