"""What a weights file is, and which experiment YAML runs it.

  python tools/inspect_checkpoint.py hrnet_ocr_cs_8162_torch11.pth
  python tools/inspect_checkpoint.py output/custom/my_run/best.pth --experiments experiments/mydata
  python tools/inspect_checkpoint.py deploy/demo_int8.onnx

For a .pth / .pth.tar (any layout the project loads: best.pth, final_state.pth,
checkpoint.pth.tar, `module.` / `module.model.` prefixes, PyTorch 0.4-era files) it prints the
layout, the model family (HRNetV2, HRNetV2 + OCR, Lite-HRNet, HRNetV2 + HANet, or an ImageNet
backbone file), the width, the number of classes, the experiment YAMLs whose model fits it key
for key with their MODEL.ALIGN_CORNERS, and the tools/test.py command; for a file that fits no
YAML, the closest ones and which keys differ (missing, unexpected, mis-shaped: e.g. another
class count). The YAMLs' models are built with shapes only (no memory), each model once.

For an .onnx file (needs requirements-deploy.txt) it prints the inputs, outputs, opset and
precision (fp32, fp16 or int8); for a TorchScript export (any name) the size it was traced at
and whether it takes other sizes.
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401

from inference.torchscript import describe_torchscript
from models.identify import inspect_weights
from utils import cli
from utils.allocator import set_allocator_options
from utils.checkpoint import is_torchscript
from utils.cli import run_tool
from utils.errors import CheckpointError, UserError

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    parser.add_argument("files", nargs="+", help=".pth, .pth.tar or .onnx files")
    parser.add_argument(
        "--experiments",
        default=str(EXPERIMENTS),
        help="folder of YAMLs to match, searched recursively (default: the repository's)",
    )
    parser.add_argument(
        "--closest",
        type=int,
        default=3,
        help="how many of the closest YAMLs to show for a file that fits none (default: 3)",
    )
    cli.add_debug_argument(parser)
    return parser.parse_args(argv)


def describe_onnx(path):
    try:
        from deploy.onnx_info import describe_onnx as describe
    except ImportError as error:
        raise UserError(
            f"{path}: reading an ONNX file needs onnx ({error}); "
            "pip install -r requirements-deploy.txt"
        ) from error
    return describe(path)


def main(argv=None):
    args = parse_args(argv)
    if not Path(args.experiments).is_dir():
        raise UserError(f"--experiments {args.experiments} is not a folder")
    reports = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise CheckpointError(f"weights file {path} does not exist")
        if path.suffix.lower() == ".onnx":
            reports.append(describe_onnx(path))
        elif is_torchscript(path):
            reports.append(describe_torchscript(path))
        else:
            reports.append(inspect_weights(path, args.experiments, args.closest))
    print("\n\n".join(reports))
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(run_tool(main))
