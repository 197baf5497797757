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
  --multiscale  one --size image predicted at scales 0.5-1.75 with flip under the Cityscapes
                policy: the original's loop (its passes, one image and one flip per eager fp32
                forward, cv2 resizing on the host, in a subprocess with glibc's default
                allocator, as the original runs) against the Predictor with the eager, exact
                (--exact) and fast (default) models (with --compile also the compiled fast
                model), --rounds times in turn
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
import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import datasets
from config import load_config
from core.predictor import Predictor
from datasets.transforms import scaled_size
from datasets.windows import plan_passes
from models import build_model, load_weights
from models.outputs import main_output
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
    parser.add_argument(
        "--rounds", type=int, default=2, help="--allocator: process pairs; --multiscale: rounds"
    )
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


def original_pass(model, image, align_corners):
    """The original `inference` with flip: a (h, w, 3) float image and its mirror, one forward
    each, logits resized to the input, averaged, exp."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None])
    size = x.shape[-2:]
    pred = F.interpolate(main_output(model(x)), size, mode="bilinear", align_corners=align_corners)
    mirrored = main_output(model(torch.from_numpy(x.numpy()[:, :, :, ::-1].copy())))
    mirrored = F.interpolate(mirrored, size, mode="bilinear", align_corners=align_corners)
    pred += torch.from_numpy(mirrored.numpy()[:, :, :, ::-1].copy())
    return (pred * 0.5).exp()


def original_multiscale(model, image, num_classes, crop, base_size, align_corners):
    """The original `Cityscapes.multi_scale_inference` at MULTISCALE with flip, as it runs: the
    normalised image on the host as (H, W, 3), cv2 resizing, every pass and its mirror its own
    eager forward, whole images at scales <= 1, windows at a stride of the crop (the last one
    anchored at the end) above."""
    _, _, height, width = image.shape
    hwc = image[0].numpy().transpose(1, 2, 0).copy()
    final = torch.zeros(1, num_classes, height, width)
    for scale in MULTISCALE:
        new_h, new_w = scaled_size(height, width, int(base_size * scale + 0.5))
        scaled = cv2.resize(hwc, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        if scale <= 1.0:
            preds = original_pass(model, scaled, align_corners)
        else:
            preds = torch.zeros(1, num_classes, new_h, new_w)
            count = torch.zeros(1, 1, new_h, new_w)
            for row in range(int(np.ceil((new_h - crop[0]) / crop[0])) + 1):
                for col in range(int(np.ceil((new_w - crop[1]) / crop[1])) + 1):
                    y1 = min(row * crop[0] + crop[0], new_h)
                    x1 = min(col * crop[1] + crop[1], new_w)
                    y0, x0 = max(y1 - crop[0], 0), max(x1 - crop[1], 0)
                    pred = original_pass(model, scaled[y0:y1, x0:x1], align_corners)
                    preds[:, :, y0:y1, x0:x1] += pred
                    count[:, :, y0:y1, x0:x1] += 1
            preds = preds / count
        final += F.interpolate(preds, (height, width), mode="bilinear", align_corners=align_corners)
    return final


ORIGINAL = "the original's passes, one input per eager fp32 forward, glibc's default allocator"


def temper_logits(model, image, num_classes, spread=3.0):
    """Scale the classifiers (convolutions with `num_classes` outputs) of a random model so that
    its logits on `image` have a standard deviation of `spread`, as a trained model's: He-normal
    weights give logits of about 1e4, whose `exp` overflows in the original's sum."""
    with torch.no_grad():
        factor = spread / main_output(model(image)).std().item()
        for module in model.modules():
            if isinstance(module, nn.Conv2d) and module.out_channels == num_classes:
                module.weight.mul_(factor)
                if module.bias is not None:
                    module.bias.mul_(factor)


def run_multiscale(args):
    """Time the original's loop and the Predictor on one image, `args.rounds` times in turn;
    with --plain-only (internal) time the original's loop once and save its prediction (the
    run without set_allocator_options, in a subprocess)."""
    cfg, model = load_model(args.cfg[0], args.pth, ["TEST.POLICY", "cityscapes", *args.opts])
    width, height = cfg.TEST.IMAGE_SIZE
    crop, base_size, align = (height, width), cfg.TEST.BASE_SIZE, cfg.MODEL.ALIGN_CORNERS
    num_classes = cfg.DATASET.NUM_CLASSES
    image = sample_image(args.size)
    if not args.pth:
        temper_logits(model, F.interpolate(image, scale_factor=0.25), num_classes)

    def original():
        return original_multiscale(model, image, num_classes, crop, base_size, align)

    if args.plain_only:
        seconds, prediction = timed(original)
        torch.save(prediction, args.plain_only)
        print(json.dumps(seconds))
        return
    cfg.defrost()
    cfg.TEST.SCALE_LIST, cfg.TEST.FLIP_TEST = list(MULTISCALE), True

    def predictor(path):
        return lambda: Predictor.from_config(cfg, path, "cpu")(image)

    runs = {
        "the same loop with set_allocator_options": original,
        "Predictor, eager fp32 model": predictor(model),
        "Predictor, exact model (`--exact`)": predictor(optimize(model, "exact")),
        "Predictor, fast model (the default)": predictor(optimize(model, "fast")),
    }
    if args.compile:
        compiled = optimize(model, "fast", compile=True)
        with torch.no_grad():  # compile for the batch of two crops before timing
            compiled(torch.zeros(2, 3, *crop))
        runs["Predictor, fast + torch.compile (compiled beforehand)"] = predictor(compiled)
    seconds = {name: [] for name in (ORIGINAL, *runs)}
    predictions = {}
    for _ in range(args.rounds):
        seconds[ORIGINAL].append(original_in_subprocess(args, predictions))
        for name, run in runs.items():
            elapsed, predictions[name] = timed(run)
            seconds[name].append(elapsed)
    plan = [plan_passes("cityscapes", *scaled_size(*args.size, int(base_size * s + 0.5)), crop, s)
            for s in MULTISCALE]  # fmt: skip
    whole = sum(len(p) == 1 and p[0][0][1::2] == p[0][1] for p in plan)
    print(
        f"one 1x3x{args.size[0]}x{args.size[1]} image, scales {list(MULTISCALE)} + flip, the "
        f"Cityscapes policy, crop {crop[0]}x{crop[1]}, base size {base_size}: "
        f"{sum(len(p) for p in plan)} passes ({whole} whole images) x 2 flips; "
        f"{torch.get_num_threads()} threads, median of {args.rounds} rounds"
    )
    reference = median(seconds[ORIGINAL])
    print("| method | seconds | speed-up | same pixels as the original |")
    print("|---|---:|---:|---:|")
    for name, values in seconds.items():
        same = (predictions[name] == predictions[ORIGINAL]).float().mean().item()
        print(
            f"| {name} | {median(values):.1f} | {reference / median(values):.2f}x "
            f"| {100 * same:.3f}% |"
        )


def timed(run):
    """(seconds, argmax prediction) of one call of `run`."""
    with torch.no_grad():
        start = time.perf_counter()
        prediction = run().argmax(1)
    return time.perf_counter() - start, prediction


def original_in_subprocess(args, predictions):
    """Seconds of the original's loop in a subprocess without set_allocator_options; its
    prediction goes to `predictions[ORIGINAL]`."""
    with tempfile.TemporaryDirectory() as workdir:
        saved = Path(workdir) / "original.pt"
        flags = ["--multiscale", "--no-mallopt", "--plain-only", str(saved)]
        seconds = run_subprocess(args, args.cfg[0], flags)
        predictions[ORIGINAL] = torch.load(saved, weights_only=True)
        return seconds


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
