"""Per-image pixel accuracy of saved predictions, and the easiest and hardest images side by side.

Predictions are single-channel PNGs of class indices (`<pred_dir>/<name>.png`, as test.py saves
them); the ground truth is `<data_dir>/label/<name>.png` (raw ids of the class table, or class
indices) and the picture `<data_dir>/image/<name>.jpg`.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.colormap import IGNORE
from utils.errors import DataError
from utils.image_io import read_image, read_label, write_image
from utils.logger import progress_bar
from utils.visualize import colorize


@dataclass(frozen=True)
class Score:
    name: str
    correct: int
    counted: int  # pixels that count: labelled ones, or all with count_ignore

    @property
    def accuracy(self):
        return self.correct / self.counted if self.counted else float("nan")


def score(label, prediction, count_ignore=False):
    """(correct, counted) pixels; ignore pixels count as errors only with `count_ignore`."""
    if count_ignore:
        return int(np.count_nonzero(label == prediction)), int(label.size)
    valid = label != IGNORE
    return int(np.count_nonzero((label == prediction) & valid)), int(np.count_nonzero(valid))


def _known(ids, path, table):
    """`ids` as uint8, or a DataError naming `path` and the ids no line of `table` has."""
    unknown = table.unknown_ids(ids)
    if unknown:
        raise DataError(
            f"{path} holds id(s) {unknown[:10]} that are in no line of the class table "
            "(--color-map; class indices need --values / --pred-values classes)"
        )
    return ids.astype(np.uint8)


def load_pair(data_dir, pred_path, table, values="ids", pred_values="ids"):
    """(class-index label, class-index prediction) for one prediction file; shapes checked.

    `values` / `pred_values` say whether label / prediction pixels are raw ids of the table
    ("ids": labels as generate_list keeps them, predictions as tools/test.py writes them) or
    class indices ("classes": e.g. tools/pipeline.py's labels/ folder)."""
    label_path = Path(data_dir) / "label" / pred_path.name
    label = read_label(label_path)
    if values == "ids":
        label = table.ids_to_classes(_known(label, label_path, table))
    prediction = read_label(pred_path)
    if pred_values == "ids":
        prediction = table.ids_to_classes(_known(prediction, pred_path, table))
    if prediction.shape != label.shape:
        raise DataError(
            f"prediction {pred_path} is {prediction.shape[1]}x{prediction.shape[0]} but label "
            f"{label_path} is {label.shape[1]}x{label.shape[0]}"
        )
    return label, prediction


def score_folder(
    data_dir, pred_dir, table, values="ids", count_ignore=False, progress=True, pred_values="ids"
):
    """A Score for every `<pred_dir>/*.png`, in file-name order."""
    pred_dir = Path(pred_dir)
    predictions = sorted(pred_dir.glob("*.png"))
    if not predictions:
        raise DataError(f"no .png predictions in {pred_dir} (see --pred-dir)")
    scores = []
    for path in progress_bar(predictions, enabled=progress, unit="image"):
        label, prediction = load_pair(data_dir, path, table, values, pred_values)
        scores.append(Score(path.stem, *score(label, prediction, count_ignore)))
    return scores


def rank(scores):
    """Scored images from the most to the least accurate (ties by name); unscorable ones dropped."""
    scored = [s for s in scores if s.counted]
    return sorted(scored, key=lambda s: (-s.accuracy, s.name))


def write_scores(path, ranked, unscored=()):
    """CSV: rank, name, accuracy, correct, counted (most accurate first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "name", "accuracy", "correct", "counted"])
        for i, s in enumerate(ranked, start=1):
            writer.writerow([i, s.name, f"{s.accuracy:.6f}", s.correct, s.counted])
        for s in unscored:
            writer.writerow(["", s.name, "", s.correct, s.counted])


def comparison(image, label, prediction, palette):
    """image | label colours | prediction colours, side by side (RGB)."""
    if image.shape[:2] != label.shape:
        raise DataError(
            f"image is {image.shape[1]}x{image.shape[0]}, label {label.shape[1]}x{label.shape[0]}"
        )
    return np.hstack([image, colorize(label, palette), colorize(prediction, palette)])


def write_comparisons(folder, scores, data_dir, pred_dir, table, values="ids", pred_values="ids"):
    """`<folder>/<rank>_<name>_compare.png` for each score in order; old comparisons removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*_compare.png"):
        old.unlink()
    palette = table.palette()
    for i, s in enumerate(scores, start=1):
        pred_path = Path(pred_dir) / f"{s.name}.png"
        label, prediction = load_pair(data_dir, pred_path, table, values, pred_values)
        image = read_image(Path(data_dir) / "image" / f"{s.name}.jpg", "rgb")
        try:
            picture = comparison(image, label, prediction, palette)
        except DataError as error:
            raise DataError(f"{s.name}: {error}") from None
        write_image(folder / f"{i:03d}_{s.name}_compare.png", picture)
