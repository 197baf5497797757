"""Measurements of models and pipelines, printed as tables.

  --info        parameters and multiply-adds of --cfg models at --size (no timing)
  --data        per-sample time of the training data pipeline against the bare image decode time
  --speed       latency of --cfg models at 1x3x--size: PyTorch eager fp32 (NCHW), the optimised
                paths of utils/fast_inference ("exact": BatchNorm folded + channels_last, fp32;
                "fast": the same in bf16), with --compile also their torch.compile versions, and
                ONNX Runtime fp32 / int8; every path is timed in turn, round after round, and
                compared with eager fp32 (speed-up, share of identical argmax pixels)
  --allocator   eager / optimised latency with and without utils.allocator's
                set_allocator_options (mallopt is per process: each case is a subprocess), and
                each path against eager fp32 with glibc's defaults, i.e. the original code
  --multiscale  one --size image predicted at TEST scales 0.5-1.75 with flip: a plain loop (every
                crop and flip its own fp32 forward, as the original code; also run in a
                subprocess with glibc's default allocator) against the Predictor with the
                eager, exact and fast models (with --compile also the compiled fast model)
  --train       training speed and memory (core/train_benchmark.py): one step of the --cfg
                models (default W18-Small-v2 and W48, the Cityscapes YAMLs) at
                --batch x 3 x --size (default 2x3x256x512) as the original trains
                (eager fp32 NCHW, glibc's allocator), with this project's fp32 and default
                mixed-precision paths (--checkpoint, --compile: also activation checkpointing,
                torch.compile), each path its own process, interleaved step by step, with peak
                memory; then --demo-epochs epochs of the demo with data loading (images/s, loss
                against fp32's, mIoU); --demo-epochs 10 is the 200-step bf16-vs-fp32 check

Without --pth the weights are random, He-normal: the original N(0, 0.001) initialisation makes
activations denormal after a few layers, which slows fp32 (not bf16) arithmetic many times and
would inflate every speed-up. With random weights --speed times a smooth random image and
calibrates int8 on random images (its latency is meaningful, its predictions are not); with
--pth it times the first image of DATASET.TEST_SET and calibrates on 50 of DATASET.TRAIN_SET,
resized to --size (tools/export_onnx.py --evaluate measures mIoU over a whole list).
Speed targets are ratios measured within one run; README.md lists the commands and results.
Times are printed as min / median / max. Every timing mode ends with a line saying how much
CPU other processes used during the run (utils/timing.py), and a warning when it was more than
10% of the machine's: then the figures and even their ratios are unreliable.
"""

import argparse
import copy
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from statistics import median

import _init_paths  # noqa: F401
import torch
import torch.nn.functional as F
from torch import nn

import datasets
from config import load_config
from core.predictor import Predictor, scaled_size, window_starts
from models import build_model, load_weights
from utils import cli
from utils.allocator import set_allocator_options
from utils.fast_inference import InferenceModel, optimize
from utils.model_info import model_info
from utils.timing import CpuLoad, summary
from utils.timing import time_interleaved as time_calls

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
MULTISCALE = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__, formatter_class=argparse.RawTextHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--info", action="store_true", help="print params and FLOPs of --cfg models")
    mode.add_argument("--data", action="store_true", help="time the training data pipeline")
    mode.add_argument("--speed", action="store_true", help="latency table of inference paths")
    mode.add_argument("--allocator", action="store_true", help="latency with / without mallopt")
    mode.add_argument("--multiscale", action="store_true", help="multi-scale + flip prediction")
    mode.add_argument("--train", action="store_true", help="training step and demo epoch speed")
    parser.add_argument(
        "--cfg", nargs="+", default=[], help="experiment YAML file(s) (--train: W18-Small-v2, W48)"
    )
    parser.add_argument(
        "--size",
        nargs=2,
        type=int,
        default=None,
        metavar=("H", "W"),
        help="input size (default 1024 2048; --train: 256 512)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="--data: samples (10); --speed, --train: rounds (5; --train 0: demo epochs only)",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=SPEED_MODES,
        default=None,
        help="--speed paths (default: eager exact fast, and onnx-fp32 onnx-int8 when onnx and "
        "onnxruntime are installed; cl, cl-bf16: channels_last alone in fp32 / bf16, without "
        "BatchNorm folding); --allocator paths (default: eager fast)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="--speed, --multiscale, --train: add torch.compile runs",
    )
    parser.add_argument(
        "--checkpoint", action="store_true", help="--train: add the TRAIN.GRAD_CHECKPOINT row"
    )
    parser.add_argument("--batch", type=int, default=2, help="--train: batch size (default 2)")
    parser.add_argument(
        "--demo-epochs",
        type=int,
        default=10,
        help="--train: demo epochs per path (default 10, 200 steps; 0: none)",
    )
    parser.add_argument("--device", default="cpu", help="--train: cpu or cuda[:N] (default cpu)")
    parser.add_argument("--pth", help="trained weights (one --cfg only); default: random")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="--allocator: process pairs")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-mallopt", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain-only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not (args.data or args.train or args.cfg):
        parser.error("--info, --speed, --allocator and --multiscale need --cfg X.yaml [...]")
    if args.pth and len(args.cfg) != 1:
        parser.error("--pth goes with exactly one --cfg")
    if args.multiscale and len(args.cfg) != 1:
        parser.error("--multiscale takes one --cfg")
    if args.repeats is None:
        args.repeats = 10 if args.data else 5
    if args.size is None:
        args.size = [256, 512] if args.train else [1024, 2048]
    return args


def print_info(cfg_files, size, opts):
    height, width = size
    print(f"input 1x3x{height}x{width}; MACs = multiply-adds of convolutions and linear layers;")
    print("legacy GFLOPs = MACs / 2**30 (the figure of the original README)")
    print("| config | model | params (M) | GMACs (1e9) | legacy GFLOPs (MACs / 2^30) |")
    print("|---|---|---:|---:|---:|")
    for cfg_file in cfg_files:
        cfg = load_config(cfg_file, ["MODEL.PRETRAINED", "", *opts])
        with torch.device("meta"):  # shapes only: instant even for W48 at 1024x2048
            model = build_model(cfg)
        info = model_info(model, (height, width))
        print(
            f"| {Path(cfg_file).name} | {cfg.MODEL.NAME} | {info['params'] / 1e6:.2f} | "
            f"{info['gmacs']:.1f} | {info['legacy_gflops']:.1f} |"
        )


def load_model(cfg_file, pth, opts):
    """The model of `cfg_file` in eval mode: `pth` weights, or random He-normal ones."""
    cfg = load_config(cfg_file, ["MODEL.PRETRAINED", "", *opts])
    torch.manual_seed(0)
    model = build_model(cfg, pretrained=False)
    if pth:
        load_weights(model, pth)
    else:
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return cfg, model.eval()


def sample_image(size, seed=0):
    """A smooth random normalised image (1, 3, H, W): upsampled coarse noise."""
    coarse = torch.randn(1, 3, 8, 16, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(coarse, size=tuple(size), mode="bilinear", align_corners=False)


def main_output(outputs):
    return outputs[-1] if isinstance(outputs, list | tuple) else outputs


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

            fp32 = Path(workdir) / "model.onnx"
            if not fp32.exists():
                deploy.export_onnx(model, fp32, size)
            path = fp32
            if mode == "onnx-int8":
                path = fp32.with_name("model_int8.onnx")
                deploy.quantize_int8(fp32, path, (x.numpy() for x in calibration))
            # spinning ONNX Runtime threads would take the cores from the next path timed
            paths[mode] = deploy.OnnxModel(path, spinning=False)
    return paths


def time_interleaved(paths, x, rounds):
    """Seconds of every path on `x`, one call per path per round, after one warm-up call."""
    with torch.no_grad():
        return time_calls({name: partial(path, x) for name, path in paths.items()}, rounds)


def measure_speed(cfg_file, args, modes):
    """One row per path: median / min / max milliseconds, speed-up, GFLOP/s, agreement."""
    cfg, model = load_model(cfg_file, args.pth, args.opts)
    macs = model_info(model, tuple(args.size))["macs"]
    params = sum(p.numel() for p in model.parameters())
    x, calibration = speed_inputs(cfg, args.pth, args.size)
    with tempfile.TemporaryDirectory() as workdir:
        paths = speed_paths(model, modes, args.size, args.compile, workdir, calibration)
        times = time_interleaved(paths, x, args.repeats)
        with torch.no_grad():
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


def run_allocator(args):
    """Alternate subprocesses with and without mallopt; print median latencies per path."""
    modes = args.modes or ["eager", "fast"]
    results = {}
    for cfg_file in args.cfg:
        for _ in range(args.rounds):
            for mallopt in (False, True):
                flags = ["--speed", "--json", "--modes", *modes, "--repeats", str(args.repeats)]
                if not mallopt:
                    flags.append("--no-mallopt")
                for row in run_subprocess(args, cfg_file, flags):
                    key = (row["config"], row["path"], mallopt)
                    results.setdefault(key, []).append(row["median_ms"])
    height, width = args.size
    print(
        f"input 1x3x{height}x{width}, {args.threads} threads; median of {args.rounds} processes "
        f"per case, each the median of {args.repeats} forwards"
    )
    print(
        "| config | path | glibc default (ms) | set_allocator_options (ms) | speed-up "
        "| vs eager fp32 with glibc default (the original code) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for (config, path, mallopt), values in results.items():
        if mallopt:
            continue
        without, with_ = median(values), median(results[(config, path, True)])
        original = results.get((config, "eager", False))
        versus = f"{median(original) / with_:.2f}x" if original else "-"
        print(
            f"| {config} | {LABELS[path]} | {without:.0f} | {with_:.0f} | {without / with_:.2f}x "
            f"| {versus} |"
        )


def windows(size, crop):
    """The Predictor's sliding windows (y0, y1, x0, x1) over `size` for a `crop`."""
    strides = [max(1, int(c * 2.0 / 3.0)) for c in crop]
    return [
        (y0, min(y0 + crop[0], size[0]), x0, min(x0 + crop[1], size[1]))
        for y0 in window_starts(size[0], crop[0], strides[0])
        for x0 in window_starts(size[1], crop[1], strides[1])
    ]


def plain_multiscale(model, image, num_classes, crop, base_size, align_corners):
    """Probabilities of `image` (1, 3, H, W) at MULTISCALE with flip, the straightforward way:
    every window of every scale, and its mirror, is its own fp32 forward pass (the windows and
    the averaging of the Predictor)."""
    height, width = image.shape[-2:]
    total = torch.zeros(1, num_classes, height, width)
    for scale in MULTISCALE:
        size = scaled_size(height, width, int(base_size * scale + 0.5))
        scaled = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        probs = torch.zeros(1, num_classes, *size)
        count = torch.zeros(1, 1, *size)
        for y0, y1, x0, x1 in windows(size, crop):
            window = scaled[:, :, y0:y1, x0:x1]
            window = F.pad(window, (0, crop[1] - (x1 - x0), 0, crop[0] - (y1 - y0)))
            for mirrored in (False, True):
                logits = main_output(model(window.flip(-1) if mirrored else window))
                out = F.interpolate(logits, crop, mode="bilinear", align_corners=align_corners)
                out = out.softmax(1)
                if mirrored:
                    out = out.flip(-1)
                probs[:, :, y0:y1, x0:x1] += out[:, :, : y1 - y0, : x1 - x0]
                count[:, :, y0:y1, x0:x1] += 1
        total += F.interpolate(
            probs / count, size=(height, width), mode="bilinear", align_corners=align_corners
        )
    return total / len(MULTISCALE)


PLAIN = "plain loop, eager fp32, one crop / flip per forward"
ORIGINAL = "the same plain loop with glibc's default allocator (the original code)"


def run_multiscale(args):
    """Time the plain loop and the Predictor on one image; with --plain-only (internal) time
    the plain loop alone and save its prediction, for the glibc-default subprocess."""
    cfg, model = load_model(args.cfg[0], args.pth, args.opts)
    width, height = cfg.TEST.IMAGE_SIZE
    crop, base_size, align = (height, width), cfg.TEST.BASE_SIZE, cfg.MODEL.ALIGN_CORNERS
    num_classes = cfg.DATASET.NUM_CLASSES
    image = sample_image(args.size)
    settings = {
        "align_corners": align,
        "output_index": cfg.TEST.OUTPUT_INDEX,
        "scales": MULTISCALE,
        "flip": True,
        "crop_size": crop,
        "base_size": base_size,
        "device": "cpu",
    }

    def plain():
        return plain_multiscale(model, image, num_classes, crop, base_size, align)

    def predictor(path):
        return lambda: Predictor(path, num_classes, **settings)(image)

    if args.plain_only:
        seconds, prediction = timed(plain)
        torch.save(prediction, args.plain_only)
        print(json.dumps(seconds))
        return
    runs = {PLAIN: plain, "Predictor, eager fp32": predictor(model)}
    for mode in ("exact", "fast"):
        runs[f"Predictor, {LABELS[mode].split(':')[0]} model"] = predictor(optimize(model, mode))
    if args.compile:
        compiled = optimize(model, "fast", compile=True)
        with torch.no_grad():  # compile for the batch of two crops before timing
            compiled(torch.zeros(2, 3, *crop))
        runs["Predictor, fast + torch.compile (compiled beforehand)"] = predictor(compiled)
    results = {name: timed(run) for name, run in runs.items()}
    if not args.no_mallopt:
        results = {ORIGINAL: original_multiscale(args), **results}
    count = sum(
        len(windows(scaled_size(*args.size, int(base_size * s + 0.5)), crop)) for s in MULTISCALE
    )
    height, width = args.size
    print(
        f"one 1x3x{height}x{width} image, scales {list(MULTISCALE)} + flip, crop {crop[0]}x"
        f"{crop[1]}, base size {base_size}: {count} windows x 2 flips, "
        f"{torch.get_num_threads()} threads"
    )
    reference_time, reference = results[PLAIN]
    original_time = results[ORIGINAL][0] if ORIGINAL in results else None
    print(
        "| method | seconds | vs the plain loop | vs the original code | same pixels as the "
        "plain loop |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, prediction) in results.items():
        same = (prediction == reference).float().mean().item()
        versus = f"{original_time / seconds:.2f}x" if original_time else "-"
        print(
            f"| {name} | {seconds:.1f} | {reference_time / seconds:.2f}x | {versus} "
            f"| {100 * same:.2f}% |"
        )


def timed(run):
    """(seconds, argmax prediction) of one call of `run`."""
    with torch.no_grad():
        start = time.perf_counter()
        prediction = run().argmax(1)
    return time.perf_counter() - start, prediction


def original_multiscale(args):
    """The plain loop in a subprocess without set_allocator_options: (seconds, prediction)."""
    with tempfile.TemporaryDirectory() as workdir:
        saved = Path(workdir) / "plain.pt"
        flags = ["--multiscale", "--no-mallopt", "--plain-only", str(saved)]
        seconds = run_subprocess(args, args.cfg[0], flags)
        return seconds, torch.load(saved, weights_only=True)


def run_subprocess(args, cfg_file, flags):
    """This script with `flags` on `cfg_file` (and this run's size, threads, weights and
    overrides) in a fresh process; its last output line, parsed as JSON."""
    command = [
        sys.executable, __file__, *flags,
        "--cfg", cfg_file,
        "--size", *map(str, args.size),
        "--threads", str(args.threads),
    ]  # fmt: skip
    if args.pth:
        command += ["--pth", args.pth]
    output = subprocess.run(command + args.opts, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_train(args):
    """Print the training-step table of the --cfg models and the demo-epoch table."""
    from core import train_benchmark as bench

    rows = ["original", "fp32", "mixed"]
    rows += ["checkpoint"] * args.checkpoint + ["compile"] * args.compile
    measured = []
    for cfg_file in (args.cfg or bench.STEP_CFGS) if args.repeats else ():
        measured += bench.measure_steps(
            cfg_file, rows, args.size, args.batch, args.repeats, args.threads, args.opts,
            args.device,
        )  # fmt: skip
    if measured:
        print(bench.format_step_table(measured, args.size, args.batch, args.device))
    if args.demo_epochs:
        demo = bench.measure_demo_epochs(args.demo_epochs, threads=args.threads, device=args.device)
        print()
        print(bench.format_demo_table(demo))


def _have(*packages):
    return all(importlib.util.find_spec(p) is not None for p in packages)


def main(argv=None):
    args = parse_args(argv)
    if not args.no_mallopt:
        set_allocator_options()
    if not (args.info or args.data):
        torch.set_num_threads(args.threads)
    if args.info:
        print_info(args.cfg, args.size, args.opts)
        return 0
    with CpuLoad() as load:  # every timing mode: how much CPU other processes took meanwhile
        if args.data:
            from datasets.benchmark import measure_data_pipeline, print_data_report

            print_data_report(measure_data_pipeline(repeats=args.repeats))
        elif args.speed:
            modes = args.modes or [
                m
                for m in DEFAULT_SPEED_MODES
                if not m.startswith("onnx") or _have("onnx", "onnxruntime")
            ]
            rows = []
            for cfg_file in args.cfg:
                rows += measure_speed(cfg_file, args, modes)
            if args.json:
                print(json.dumps(rows))
            else:
                print_speed(rows, args.size, args.repeats)
        elif args.allocator:
            run_allocator(args)
        elif args.multiscale:
            run_multiscale(args)
        elif args.train:
            run_train(args)
    if not (args.json or args.plain_only):  # a subprocess of this script: its parent reports
        print(load.report())
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_tool(main))
