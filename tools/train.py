"""Train a segmentation model.

  python tools/train.py --cfg X.yaml [KEY VALUE ...]                  one process (CPU or GPU)
  torchrun --nproc_per_node=N tools/train.py --cfg X.yaml [KEY VALUE ...]    N processes
  python -m torch.distributed.launch --nproc_per_node=N tools/train.py --cfg X.yaml

Outputs go to OUTPUT_DIR/<dataset>/<cfg name>/: checkpoint.pth.tar, best.pth, final_state.pth,
the log and metrics.jsonl; TensorBoard events (losses, learning rates, IoU per class name,
confusion matrix and validation pictures, the config) to LOG_DIR/<dataset>/<model>/<cfg name>/:
  tensorboard --logdir log
  python tools/plot_runs.py OUTPUT_DIR/<dataset>/<cfg name>      the curves as a PNG

A folder that already holds a run is not overwritten: add AUTO_RESUME True to continue it,
exactly where it stopped (also under torchrun --max-restarts=N, which restarts killed
processes). One job at a time trains in a folder: a second one is refused while it runs.
Mistakes in the settings, data or checkpoints stop the run at once with one line,
`error: <message>`, and exit status 2 (--debug or HRNET_DEBUG=1: with the traceback).
"""

import argparse
import logging
import sys

import _init_paths  # noqa: F401

from config import config_name, load_config, run_dirs
from core.trainer import DEFAULT_SEED, Trainer, resumes, seed_everything
from utils import cli, distributed
from utils.allocator import set_allocator_options
from utils.checkpoint import Checkpointer
from utils.logger import setup_logging
from utils.run_lock import lock_run_folder


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("--cfg", required=True, help="experiment YAML file")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed, >= 0 (default {DEFAULT_SEED})"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: GPU if any)")
    parser.add_argument("--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    cli.add_log_level_argument(parser)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides: KEY VALUE ...")
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.cfg, args.opts)
    dist = distributed.init(args.device, args.local_rank)
    output_dir, tensorboard_dir = run_dirs(cfg, args.cfg)
    lock = None  # rank 0 holds the run folder's lock until main returns
    with distributed.together():  # before the log file: a refused run leaves nothing in the folder
        if dist.is_main:
            Checkpointer(output_dir).check_not_overwriting(resumes(cfg))
            lock = lock_run_folder(output_dir)
    setup_logging(output_dir, "train", config_name(args.cfg), dist.is_main, args.log_level)
    logger = logging.getLogger("train")
    logger.info("config %s on %s, %d process(es)", args.cfg, dist.device, dist.world_size)
    logger.info("\n%s", cfg.dump())
    try:
        seed_everything(args.seed + dist.rank)
        Trainer(cfg, dist, output_dir, tensorboard_dir, seed=args.seed).train()
    finally:
        distributed.cleanup()
        if lock is not None:
            lock.close()
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
