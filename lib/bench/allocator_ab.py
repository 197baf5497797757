"""Latency with and without `utils.allocator.set_allocator_options` (tools/benchmark.py
--allocator).

mallopt is a setting of the whole process, so every case is `latency.measure_speed` in a fresh
process (bench.fresh_process), with and without the options, alternating, `rounds` processes per
case; each path is also compared with eager fp32 under glibc's defaults, i.e. the original code.
"""

from statistics import median

import torch

from bench.fresh_process import run_in_fresh_process
from bench.latency import LABELS, measure_speed

__all__ = ["measure_allocator", "print_allocator"]


def measure_allocator(cfg_files, modes, size, repeats, rounds, pth=None, opts=()):
    """{(config, path, with the options): [median ms of each process]}; every process uses
    this process's thread count."""
    threads = torch.get_num_threads()
    results = {}
    for cfg_file in cfg_files:
        for _ in range(rounds):
            for allocator in (False, True):
                rows = run_in_fresh_process(
                    measure_speed, cfg_file, modes, size, repeats, pth, opts,
                    allocator=allocator, threads=threads,
                )  # fmt: skip
                for row in rows:
                    key = (row["config"], row["path"], allocator)
                    results.setdefault(key, []).append(row["median_ms"])
    return results


def print_allocator(results, size, repeats, rounds):
    """Print `measure_allocator`'s results as a table."""
    height, width = size
    print(
        f"input 1x3x{height}x{width}, {torch.get_num_threads()} threads; median of {rounds} "
        f"processes per case, each the median of {repeats} forwards"
    )
    print(
        "| config | path | glibc default (ms) | set_allocator_options (ms) | speed-up "
        "| vs eager fp32 with glibc default (the original code) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for (config, path, allocator), values in results.items():
        if allocator:
            continue
        without, with_ = median(values), median(results[(config, path, True)])
        original = results.get((config, "eager", False))
        versus = f"{median(original) / with_:.2f}x" if original else "-"
        print(
            f"| {config} | {LABELS[path]} | {without:.0f} | {with_:.0f} | {without / with_:.2f}x "
            f"| {versus} |"
        )
