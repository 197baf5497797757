"""Charts with axes, drawn by matplotlib's Agg renderer (headless: no display, no GUI toolkit,
no pyplot state): confusion matrices, per-class bars, label-vs-prediction pictures and run
curves. matplotlib is imported on first use, so tools that draw nothing never load it.
Class names in Chinese (a GBK colorMap.txt) are drawn with an installed CJK font, if any."""

import functools
import logging
import re
import warnings
from pathlib import Path

import numpy as np

from utils.metrics import segmentation_scores
from utils.visualize import colorize, label_and_prediction

ABSENT_COLOR = "#bbbbbb"
CONFUSION_PNG = "confusion_matrix.png"
IOU_PNG = "iou_per_class.png"
# Fonts with CJK glyphs on Linux, Windows and macOS; matplotlib falls back to them per glyph.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Arial Unicode MS",
)
_MISSING_GLYPH = re.compile(r"Glyph (\d+) \(.*\) missing from font")
_reported_glyphs = set()


@functools.cache
def _add_cjk_fonts():
    """Add the installed CJK fonts after the default family, once per process: matplotlib
    draws each glyph with the first family of `font.family` that has it."""
    import matplotlib
    from matplotlib import font_manager

    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    families = list(matplotlib.rcParams["font.family"])
    found = [name for name in CJK_FONTS if name in installed and name not in families]
    matplotlib.rcParams["font.family"] = families + found


def new_figure(width, height):
    """A matplotlib Figure of `width` x `height` inches on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _add_cjk_fonts()
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path, dpi=100):
    """Write `figure` as a PNG (or the format of `path`'s suffix), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _render(lambda: figure.savefig(path, dpi=dpi), path)
    return path


def figure_to_rgb(figure, dpi=100, max_width=2400):
    """The rendered figure as an RGB uint8 array (H, W, 3), e.g. for TensorBoard; at most
    `max_width` pixels wide (a 150-class confusion matrix would be 6000)."""
    figure.set_dpi(min(dpi, max_width / figure.get_figwidth()))
    _render(figure.canvas.draw, "a chart")
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def _render(draw, target):
    """Run `draw`; matplotlib's one warning per missing glyph becomes one line per process
    naming the characters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        draw()
    missing = set()
    for warning in caught:
        glyph = _MISSING_GLYPH.match(str(warning.message))
        if glyph:
            missing.add(chr(int(glyph.group(1))))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    missing -= _reported_glyphs
    if missing:
        _reported_glyphs.update(missing)
        logging.getLogger(__name__).warning(
            "%s: no installed font draws %s; they show as boxes (install a font with them, "
            "e.g. Noto Sans CJK: fonts-noto-cjk)",
            target,
            " ".join(sorted(missing)[:10]) + (" ..." if len(missing) > 10 else ""),
        )


def _matrix_panel(figure, axes, values, class_names, title, colorbar_label, text):
    """One heat map with class names on both axes, a colour bar and optionally the values."""
    image = axes.imshow(values, cmap="Blues", vmin=0, interpolation="nearest")
    figure.colorbar(image, ax=axes, shrink=0.8, label=colorbar_label)
    ticks = np.arange(len(class_names))
    small = max(4, min(10, 260 // max(1, len(class_names))))
    axes.set_xticks(ticks, class_names, rotation=90, fontsize=small)
    axes.set_yticks(ticks, class_names, fontsize=small)
    axes.set_xlabel("prediction")
    axes.set_ylabel("ground truth")
    axes.set_title(title)
    if text is None:
        return
    threshold = values.max() / 2 if values.size else 0
    for (row, column), value in np.ndenumerate(values):
        axes.text(
            column,
            row,
            text(value),
            ha="center",
            va="center",
            fontsize=small,
            color="white" if value > threshold else "black",
        )


def confusion_figure(confusion, class_names, max_annotated=30):
    """Two heat maps of a confusion matrix (rows ground truth, columns prediction): row-normalised
    (the share of each class's pixels, %) and the pixel counts; values are written in the cells
    up to `max_annotated` classes."""
    confusion = np.asarray(confusion, dtype=np.float64)
    n = len(confusion)
    class_names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    if len(class_names) != n:
        raise ValueError(f"{len(class_names)} class names for a {n}x{n} confusion matrix")
    side = min(30.0, 2.5 + 0.45 * n)
    figure = new_figure(2 * side + 2, side + 1)
    rows = 100 * confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    annotate = n <= max_annotated
    left, right = figure.subplots(1, 2)
    panels = (
        (left, rows, "normalised by ground truth (%)", "% of the class's pixels", "{:.0f}"),
        (right, confusion, "pixel counts", "pixels", short_count),
    )
    for axes, values, title, unit, text in panels:
        text = text.format if isinstance(text, str) else text
        _matrix_panel(figure, axes, values, class_names, title, unit, text if annotate else None)
    return figure


def short_count(value):
    """A pixel count in at most 4 characters: 638, 1.8k, 38k, 557k, 1.2M, 35M."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            number = value / scale
            return f"{number:.1f}{unit}" if number < 9.95 else f"{number:.0f}{unit}"
    return f"{value:.0f}"


def save_score_charts(confusion, class_names, folder):
    """`confusion_matrix.png` and `iou_per_class.png` of a confusion matrix in `folder`;
    returns their paths."""
    folder = Path(folder)
    scores = segmentation_scores(confusion)
    absent = [n for n, s in zip(class_names, scores["support"], strict=True) if s == 0]
    return (
        save_figure(confusion_figure(confusion, class_names), folder / CONFUSION_PNG),
        save_figure(iou_figure(scores["IoU"], class_names, absent), folder / IOU_PNG),
    )


def iou_figure(iou, class_names, absent=(), title="IoU per class"):
    """Horizontal bars of per-class IoU with the values and a line at the mean; classes in
    `absent` (no ground-truth pixel) are grey and marked."""
    iou = np.asarray(iou, dtype=np.float64)
    absent = set(absent)
    figure = new_figure(7, 1.2 + 0.3 * len(iou))
    axes = figure.subplots()
    positions = np.arange(len(iou))
    colors = [ABSENT_COLOR if name in absent else "#1f77b4" for name in class_names]
    axes.barh(positions, iou, color=colors)
    for position, name, value in zip(positions, class_names, iou, strict=True):
        label = f"{value:.3f}" + ("  (absent)" if name in absent else "")
        axes.text(min(value, 1.0) + 0.01, position, label, va="center", fontsize=8)
    axes.axvline(iou.mean(), color="#d62728", linestyle="--", label=f"mIoU {iou.mean():.4f}")
    axes.set_yticks(positions, class_names)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.2)
    axes.set_xlabel("IoU")
    axes.set_title(title)
    axes.legend(loc="lower right")
    return figure


def class_means_figure(names, stats):
    """Grouped horizontal bars of the mean pixel count per image: per class, one bar per split
    (`stats`: {split: (means, variances)}), with the standard deviation as an error bar."""
    splits = list(stats)
    figure = new_figure(9, 1.5 + 0.25 * len(names) * len(splits))
    axes = figure.subplots()
    height = 0.8 / len(splits)
    positions = np.arange(len(names))
    for j, split in enumerate(splits):
        means, variances = (np.asarray(a, dtype=np.float64) for a in stats[split])
        axes.barh(
            positions + j * height, means, height, xerr=np.sqrt(variances), label=split, capsize=2
        )
    axes.set_yticks(positions + height * (len(splits) - 1) / 2, names)
    axes.invert_yaxis()
    axes.set_xlabel("mean pixels per image (bar: ± one standard deviation)")
    axes.set_title("class balance")
    axes.legend()
    return figure


def comparison_figure(image_rgb, label, prediction, palette, class_names, ignore_label=255):
    """The image, the label and the prediction over it side by side, with the pixel accuracy
    over labelled pixels and a legend of the classes that appear in either map."""
    labelled = label != ignore_label
    accuracy = (prediction[labelled] == label[labelled]).mean() if labelled.any() else float("nan")
    height, width = label.shape
    figure = new_figure(min(16.0, 3 * 3.2 * width / max(height, 1)) + 2, 3.6)
    axes = figure.subplots()
    gap = max(2, width // 50)
    axes.imshow(label_and_prediction(image_rgb, label, prediction, palette, ignore_label, gap))
    axes.set_xticks([(k + 0.5) * width + k * gap for k in range(3)])
    axes.set_xticklabels(["image", "label", f"prediction (pixel accuracy {accuracy:.3f})"])
    axes.xaxis.tick_top()
    axes.tick_params(length=0)
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
    from matplotlib.patches import Patch

    shown = sorted(set(np.unique(label[labelled]).tolist()) | set(np.unique(prediction).tolist()))
    colors = colorize(np.arange(len(class_names)), palette) / 255.0
    handles = [Patch(color=colors[k], label=class_names[k]) for k in shown if k < len(class_names)]
    figure.legend(handles=handles, loc="outside right center", fontsize=8)
    return figure


def run_curves_figure(runs):
    """Training loss, learning rate(s) and validation mIoU of one or several runs against the
    epoch (fractional for steps within an epoch). `runs`: {name: records}, each record a dict
    as in metrics.jsonl (`kind` "train" with `epoch`, `iteration`, `iterations`, `loss`, `lr`;
    `kind` "val" with `epoch`, `loss`, `mIoU`)."""
    figure = new_figure(15, 4.2)
    loss_axes, lr_axes, miou_axes = figure.subplots(1, 3)
    for name, records in runs.items():
        train = [r for r in records if r["kind"] == "train"]
        val = [r for r in records if r["kind"] == "val"]
        x = [r["epoch"] - 1 + r["iteration"] / r["iterations"] for r in train]
        if train:
            loss_axes.plot(x, [r["loss"] for r in train], label=f"{name} train")
            groups = sorted({g for r in train for g in r["lr"]}, key=str)
            for group in groups:
                values = [r["lr"].get(group, np.nan) for r in train]
                suffix = "" if len(groups) == 1 else f" {group}"
                lr_axes.plot(x, values, label=f"{name}{suffix}")
        if val:
            epochs = [r["epoch"] for r in val]
            if any(r.get("loss") is not None for r in val):
                loss_axes.plot(
                    epochs, [r.get("loss", np.nan) for r in val], "o--", label=f"{name} val"
                )
            miou_axes.plot(epochs, [r["mIoU"] for r in val], "o-", label=name)
    titles = (
        (loss_axes, "loss", "loss"),
        (lr_axes, "learning rate", "learning rate"),
        (miou_axes, "validation mIoU", "mIoU"),
    )
    for axes, title, ylabel in titles:
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        if axes.has_data():
            axes.legend(fontsize=8)
        else:
            axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    return figure
