"""Accuracy, parity and latency of model variants (PyTorch, ONNX fp32 / fp16 / int8,
TorchScript), through `inference.evaluate`, the loop and metrics of tools/test.py."""

import logging
import time
from pathlib import Path

import torch

from inference import evaluate
from models.outputs import as_list
from utils.errors import DataError
from utils.metrics import segmentation_scores

__all__ = [
    "compare_outputs",
    "evaluate_variants",
    "format_table",
    "latency_ms",
]

logger = logging.getLogger(__name__)


def evaluate_variants(cfg, candidates, loader, size, repeats=10, modes=("keep",)):
    """Rows for `format_table`: each (name, file, path, model) of `candidates` (path None for
    in-memory models) evaluated on the labelled `loader` in each TEST.RESIZE mode of `modes`:
    scores and the share of pixels predicted as the first candidate (whose class maps are kept:
    H x W bytes per image and mode), and its latency at `size` (H, W)."""
    x = torch.randn(1, 3, *size)
    reference, rows = {}, []
    for name, file, path, model in candidates:
        row = {"name": name, "file": file, "scores": {}, "same_pixels": {}}
        row["megabytes"] = Path(path).stat().st_size / 2**20 if path else 0.0
        for mode in modes:
            logger.info("evaluating %s (TEST.RESIZE %s) on %s", name, mode, cfg.DATASET.TEST_SET)
            mode_cfg = cfg.clone()
            mode_cfg.defrost()
            mode_cfg.TEST.RESIZE = mode
            mode_cfg.freeze()
            counts = [0, 0]

            def compare(class_map, image, mode=mode, counts=counts, first=not rows):
                if first:
                    reference[mode, image] = class_map
                else:
                    counts[0] += int((class_map == reference[mode, image]).sum())
                    counts[1] += class_map.size

            confusion = evaluate(mode_cfg, model, loader=loader, save=compare)
            if confusion is None:
                raise DataError(f"{cfg.DATASET.TEST_SET} has no labels: nothing to evaluate")
            row["scores"][mode] = segmentation_scores(confusion)
            row["same_pixels"][mode] = counts[0] / counts[1] if counts[1] else None
        row["latency"] = latency_ms(model, x, repeats)
        rows.append(row)
    return rows


def compare_outputs(model, exported, x):
    """Max absolute and relative (to the largest reference magnitude) differences between the
    PyTorch `model` and `exported` (a loaded export: `ExportFormat.load`) on input `x`, per
    output."""
    with torch.no_grad():
        expected = model(x)
        actual = exported(x)
    report = []
    for e, a in zip(as_list(expected), as_list(actual), strict=True):
        difference = (e.float() - a.float()).abs().max().item()
        report.append({"abs": difference, "rel": difference / max(e.abs().max().item(), 1e-12)})
    return report


def latency_ms(model, x, repeats=10, warmup=2):
    """Median milliseconds of `model(x)` over `repeats` runs after `warmup` runs."""
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def format_table(rows, size):
    """A Markdown table of dicts with name, file, megabytes, scores and same_pixels (dicts by
    TEST.RESIZE mode: the scores, the share of pixels predicted as the first row, None for it)
    and latency (ms); speed-up against the first row. One group of mIoU, pixel accuracy and
    same-pixel columns per mode, side by side, named after the mode when there are several."""
    height, width = size
    modes = list(rows[0]["scores"])
    columns = []
    for mode in modes:
        named = f" ({mode})" if len(modes) > 1 else ""
        columns += [f"mIoU{named}", f"pixel acc{named}", f"same pixels{named}"]
    lines = [
        f"| model | file | size (MB) | {' | '.join(columns)} | latency 1x3x{height}x{width} (ms) "
        "| speed-up |",
        "|---|---|" + "---:|" * (len(columns) + 3),
    ]
    reference = rows[0]["latency"]
    for row in rows:
        cells = []
        for mode in modes:
            scores, same = row["scores"][mode], row["same_pixels"][mode]
            cells += [
                f"{100 * scores['mIoU']:.2f}",
                f"{100 * scores['pixel_acc']:.2f}",
                "-" if same is None else f"{100 * same:.2f}%",
            ]
        lines.append(
            f"| {row['name']} | {row['file']} | {row['megabytes']:.1f} | {' | '.join(cells)} | "
            f"{row['latency']:.1f} | {reference / row['latency']:.2f}x |"
        )
    return "\n".join(lines)
