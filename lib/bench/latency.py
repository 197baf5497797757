"""Latency of the inference paths of a model, timed in turn (tools/benchmark.py --speed).

PyTorch eager fp32 (NCHW), the optimised paths of inference/fast.py ("exact": BatchNorm
folded + channels_last, fp32; "fast": the same in bf16), optionally their torch.compile
versions, channels_last alone ("cl", "cl-bf16") and ONNX Runtime fp32 / int8: every path is
called once per round, in turn, and compared with eager fp32 (speed-up, share of identical
argmax pixels).
"""

import copy
import importlib.util
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

import datasets
from bench.model_setup import benchmark_model, sample_image
from bench.timing import summary, time_interleaved
from inference import InferenceModel, optimize
from models.outputs import main_output
from utils.model_info import model_info

__all__ = [
    "DEFAULT_SPEED_MODES",
    "LABELS",
    "SPEED_MODES",
    "default_modes",
    "measure_speed",
    "print_speed",
    "speed_inputs",
]

DEFAULT_SPEED_MODES = ("eager", "exact", "fast", "onnx-fp32", "onnx-int8")
SPEED_MODES = (*DEFAULT_SPEED_MODES, "cl", "cl-bf16")
LABELS = {
    "eager": "PyTorch eager fp32 (NCHW)",
    "exact": "exact: BN folded + channels_last, fp32",
    "fast": "fast: BN folded + channels_last + bf16",
    "exact+compile": "exact + torch.compile",
    "fast+compile": "fast + torch.compile",
    "onnx-fp32": "ONNX Runtime fp32",
    "onnx-int8": "ONNX Runtime int8 (static, QDQ)",
    "cl": "channels_last only, fp32",
    "cl-bf16": "channels_last + bf16 autocast, no folding",
}


def default_modes():
    """DEFAULT_SPEED_MODES, without the ONNX paths when onnx or onnxruntime is missing."""
    onnx = all(importlib.util.find_spec(p) is not None for p in ("onnx", "onnxruntime"))
    return [m for m in DEFAULT_SPEED_MODES if onnx or not m.startswith("onnx")]


def speed_inputs(cfg, pth, size):
    """The timed input and the int8 calibration inputs (tensors (1, 3, H, W)): with trained
    weights the first image of DATASET.TEST_SET and 50 of DATASET.TRAIN_SET, resized to `size`
    (as tools/export_onnx.py calibrates); with random weights smooth random images."""
    if pth:
        image = next(datasets.list_inputs(cfg, cfg.DATASET.TEST_SET, 1, size))
        return image, datasets.list_inputs(cfg, cfg.DATASET.TRAIN_SET, 50, size)
    return sample_image(size), (sample_image(size, seed) for seed in range(1, 5))


def speed_paths(model, modes, size, compile, workdir, calibration):
    """{mode: callable} for the requested inference paths; `calibration`: int8 inputs."""
    paths = {}
    for mode in modes:
        if mode == "eager":
            paths[mode] = model
        elif mode in ("cl", "cl-bf16"):
            unfolded = copy.deepcopy(model).to(memory_format=torch.channels_last)
            paths[mode] = InferenceModel(unfolded, torch.bfloat16 if mode == "cl-bf16" else None)
        elif mode in ("exact", "fast"):
            paths[mode] = optimize(model, mode)
            if compile:
                paths[f"{mode}+compile"] = optimize(model, mode, compile=True)
        elif mode.startswith("onnx"):
            import deploy
            import inference

            fp32 = Path(workdir) / "model.onnx"
            if not fp32.exists():
                deploy.export_onnx(model, fp32, size)
            path = fp32
            if mode == "onnx-int8":
                path = fp32.with_name("model_int8.onnx")
                deploy.quantize_int8(fp32, path, (x.numpy() for x in calibration))
            # spinning ONNX Runtime threads would take the cores from the next path timed
            paths[mode] = inference.OnnxModel(path, spinning=False)
    return paths


def measure_speed(cfg_file, modes, size, repeats, pth=None, opts=(), compile=False):
    """One row per path of `modes` on 1x3x`size`, `repeats` interleaved rounds: median / min /
    max milliseconds, speed-ups against eager, GFLOPs, share of pixels predicted as eager."""
    cfg, model = benchmark_model(cfg_file, pth, opts)
    macs = model_info(model, tuple(size))["macs"]
    params = sum(p.numel() for p in model.parameters())
    x, calibration = speed_inputs(cfg, pth, size)
    with tempfile.TemporaryDirectory() as workdir:
        paths = speed_paths(model, modes, size, compile, workdir, calibration)
        with torch.no_grad():
            calls = {name: partial(path, x) for name, path in paths.items()}
            times = time_interleaved(calls, repeats)
            predictions = {name: main_output(path(x)).argmax(1) for name, path in paths.items()}
    reference = predictions.get("eager")
    rows = []
    for name, seconds in times.items():
        stats = summary(seconds)
        same = None
        if reference is not None:
            same = (predictions[name] == reference).float().mean().item()
        rows.append(
            {
                "config": Path(cfg_file).stem.split("_sgd")[0],
                "path": name,
                "median_ms": 1000 * stats["median"],
                "min_ms": 1000 * stats["min"],
                "max_ms": 1000 * stats["max"],
                "gflops": 2 * macs / 1e9,
                "params_m": params / 1e6,
                "same_pixels": same,
            }
        )
    eager = next((r for r in rows if r["path"] == "eager"), None)
    for row in rows:
        row["speedup"] = eager["median_ms"] / row["median_ms"] if eager else None
        row["speedup_min"] = eager["min_ms"] / row["min_ms"] if eager else None
    return rows


def matmul_gflops(n=2048, repeats=10):
    """GFLOP/s of an n x n fp32 matrix product: what the CPU's fp32 arithmetic can reach."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def print_speed(rows, size, repeats):
    """Print `measure_speed` rows (of one or more configs) as a table."""
    height, width = size
    print(f"reference: fp32 2048x2048 matrix product {matmul_gflops():.0f} GFLOP/s")
    print(
        f"input 1x3x{height}x{width}, {torch.get_num_threads()} threads, {repeats} interleaved "
        "rounds; speed-ups: eager median / path median and eager min / path min; "
        "FLOPs = 2 x multiply-adds; GFLOP/s at the median"
    )
    print(
        "| config | params (M) | GFLOPs | path | median (ms) | min (ms) | max (ms) | images/s "
        "| GFLOP/s | vs eager fp32 (medians) | vs eager fp32 (minima) | same pixels as fp32 |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        speedups = [f"{r[k]:.2f}x" if r[k] else "-" for k in ("speedup", "speedup_min")]
        same = f"{100 * r['same_pixels']:.2f}%" if r["same_pixels"] is not None else "-"
        print(
            f"| {r['config']} | {r['params_m']:.2f} | {r['gflops']:.1f} | {LABELS[r['path']]} | "
            f"{r['median_ms']:.0f} | {r['min_ms']:.0f} | {r['max_ms']:.0f} | "
            f"{1000 / r['median_ms']:.2f} | "
            f"{r['gflops'] / r['median_ms'] * 1000:.0f} | {' | '.join(speedups)} | {same} |"
        )
