"""Measurements of models and pipelines, printed as tables (the code: lib/bench/, a module per
mode).

  --info        parameters and multiply-adds of --cfg models at --size (no timing)
  --data        per-sample time of the training data pipeline against the bare image decode time
  --speed       latency of --cfg models at 1x3x--size: PyTorch eager fp32 (NCHW), the optimised
                paths of inference/fast.py ("exact": BatchNorm folded + channels_last, fp32;
                "fast": the same in bf16), with --compile also their torch.compile versions, and
                ONNX Runtime fp32 / int8; every path is timed in turn, round after round, and
                compared with eager fp32 (speed-up, share of identical argmax pixels)
  --allocator   eager / optimised latency with and without utils.allocator's
                set_allocator_options (mallopt is per process: each case is a fresh process), and
                each path against eager fp32 with glibc's defaults, i.e. the original code
  --multiscale  one --size image predicted at scales 0.5-1.75 with flip under the Cityscapes
                policy (the image is first resized to the YAML's TEST.BASE_SIZE, as the original
                does: set TEST.BASE_SIZE and TEST.IMAGE_SIZE too for a small run): the
                original's loop (its passes, one image and one flip per eager fp32 forward, cv2
                resizing on the host, in a fresh process with glibc's default allocator, as the
                original runs) against the Predictor with the eager, exact
                (--exact) and fast (default) models (with --compile also the compiled fast
                model), --rounds times in turn
  --train       training speed and memory (lib/bench/training.py): one step of the --cfg
                models (default W18-Small-v2 and W48, the Cityscapes YAMLs) at
                --batch x 3 x --size (default 2x3x256x512) as the original trains
                (eager fp32 NCHW, glibc's allocator), with this project's fp32 and default
                mixed-precision paths (--checkpoint, --compile: also activation checkpointing,
                torch.compile; --modes: any of these paths), each path its own process,
                --warmup untimed steps each, then interleaved step by step, with peak memory
                (RSS, and the peak of live tensors from one more, profiled step) and page faults
                per step; then --demo-epochs epochs of the demo with data loading (images/s, loss
                against fp32's with the same seed, mIoU) for the original, fp32 and mixed paths
                (those of --modes), seed after seed for --seeds seeds; --demo-epochs 10 is the
                200-step bf16-vs-fp32 check

Without --pth the weights are random, He-normal: the original N(0, 0.001) initialisation makes
activations denormal after a few layers, which slows fp32 (not bf16) arithmetic many times and
would inflate every speed-up. With random weights --speed times a smooth random image and
calibrates int8 on random images (its latency is meaningful, its predictions are not); with
--pth it times the first image of DATASET.TEST_SET and calibrates on 50 of DATASET.TRAIN_SET,
resized to --size (tools/export_onnx.py --evaluate measures mIoU over a whole list).
Speed targets are ratios measured within one run; README.md lists the commands and results.
Times are printed as min / median / max. Every timing mode ends with a line saying how much
CPU other processes used during the run (lib/bench/timing.py), and a warning when it was more than
10% of the machine's: then the figures and even their ratios are unreliable.
"""

import argparse
import sys

import _init_paths  # noqa: F401
import torch

from bench import allocator_ab, data_pipeline, latency, model_size, multiscale, training
from bench.timing import CpuLoad, machine_line
from utils import cli, distributed
from utils.allocator import set_allocator_options


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
        choices=[*latency.SPEED_MODES, *training.STEP_ROWS],
        default=None,
        help="--speed paths (default: eager exact fast, and onnx-fp32 onnx-int8 when onnx and "
        "onnxruntime are installed; cl, cl-bf16: channels_last alone in fp32 / bf16, without "
        "BatchNorm folding); --allocator paths (default: eager fast); --train paths (default: "
        "original fp32 mixed, with --checkpoint / --compile also checkpoint / compile; "
        "original-amp: the original with channels_last and autocast alone; mixed-native-norms: "
        "mixed with PyTorch's BatchNorm backward for every channel count; the demo runs those of "
        "original fp32 mixed)",
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
        "--warmup",
        type=int,
        default=training.WARMUP_STEPS,
        help=f"--train: untimed steps per path before the rounds (default {training.WARMUP_STEPS}; "
        "the heap grows during the first steps)",
    )
    parser.add_argument(
        "--demo-epochs",
        type=int,
        default=10,
        help="--train: demo epochs per path (default 10, 200 steps; 0: none)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="--train: demo runs per path, each with its own seed, one seed after the other; the "
        "losses are their means (default 1)",
    )
    parser.add_argument("--device", default="cpu", help="--train: cpu or cuda[:N] (default cpu)")
    parser.add_argument("--pth", help="trained weights (one --cfg only); default: random")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="--allocator: process pairs; --multiscale: rounds"
    )
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not (args.data or args.train or args.cfg):
        parser.error("--info, --speed, --allocator and --multiscale need --cfg X.yaml [...]")
    if args.pth and len(args.cfg) != 1:
        parser.error("--pth goes with exactly one --cfg")
    if args.multiscale and len(args.cfg) != 1:
        parser.error("--multiscale takes one --cfg")
    known = training.STEP_ROWS if args.train else latency.SPEED_MODES
    wrong = [mode for mode in args.modes or () if mode not in known]
    if wrong:
        parser.error(f"--modes {' '.join(wrong)}: not a path of this mode; expected {list(known)}")
    if args.repeats is None:
        args.repeats = 10 if args.data else 5
    if args.size is None:
        args.size = [256, 512] if args.train else [1024, 2048]
    least = {
        "--warmup": (args.warmup, 0),
        "--repeats": (args.repeats, 0 if args.train else 1),
        "--batch": (args.batch, 1),
        "--demo-epochs": (args.demo_epochs, 0),
        "--seeds": (args.seeds, 1),
        "--threads": (args.threads, 1),
        "--rounds": (args.rounds, 1),
        "--size": (min(args.size), 1),
    }
    for flag, (value, low) in least.items():
        if value < low:
            parser.error(f"{flag} {value}: expected {low} or more")
    if args.train and args.repeats == 0 and args.demo_epochs == 0:
        parser.error("--train with --repeats 0 and --demo-epochs 0 measures nothing")
    if args.train:
        distributed.pick_device(args.device)  # a ConfigError for a device that is not there
    return args


def main(argv=None):
    args = parse_args(argv)
    set_allocator_options()
    if args.info:
        model_size.print_info(args.cfg, args.size, args.opts)
        return 0
    if not args.data:
        torch.set_num_threads(args.threads)
    print(machine_line(args.device if args.train else "cpu"))
    with CpuLoad() as load:  # every timing mode: how much CPU other processes took meanwhile
        if args.data:
            data_pipeline.print_data_report(
                data_pipeline.measure_data_pipeline(repeats=args.repeats)
            )
        elif args.speed:
            modes = args.modes or latency.default_modes()
            rows = []
            for cfg_file in args.cfg:
                rows += latency.measure_speed(
                    cfg_file, modes, args.size, args.repeats, args.pth, args.opts, args.compile
                )
            latency.print_speed(rows, args.size, args.repeats)
        elif args.allocator:
            modes = args.modes or ["eager", "fast"]
            results = allocator_ab.measure_allocator(
                args.cfg, modes, args.size, args.repeats, args.rounds, args.pth, args.opts
            )
            allocator_ab.print_allocator(results, args.size, args.repeats, args.rounds)
        elif args.multiscale:
            result = multiscale.measure_multiscale(
                args.cfg[0], args.size, args.rounds, args.pth, args.opts, args.compile
            )
            multiscale.print_multiscale(result)
        elif args.train:
            training.print_training(
                args.cfg, args.size, args.batch, args.repeats, args.threads, args.opts,
                args.device, args.demo_epochs, args.checkpoint, args.compile, args.modes,
                args.seeds, args.warmup,
            )  # fmt: skip
    print(load.report())
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_tool(main))
