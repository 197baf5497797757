"""A training set from an image folder and a label folder (tools/prepare_dataset.py).

Images and labels are paired by their path without extension, relative to their folders. Label
PNGs hold either raw ids (grey or palette PNG) or class colours (RGB PNG), as the `custom`
dataset reads them; a folder mixing both, a label whose size differs from its image, or a file
without its partner is refused, naming the files. Every value found becomes a class of the
class table (`colorMap.txt`), except the ignore value (ids) or ignore colours.
"""

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from datatools.io import IMAGE_SUFFIXES, image_files, image_size, label_kind
from datatools.splits import split_names
from datatools.statistics import format_table
from utils.cli import shown_path
from utils.colormap import IGNORE, IGNORE_NAME
from utils.errors import DataError, UserError
from utils.image_io import read_image, read_label
from utils.logger import progress_bar
from utils.visualize import voc_palette

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
SHOW = 5  # files named per kind of problem

# --model: the experiment (of experiments/cityscapes/) whose MODEL and LOSS sections and optimiser
# settings are copied.
MODEL_TEMPLATES = {
    "w18-small-v1": "seg_hrnet_w18_small_v1_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "w18-small-v2": "seg_hrnet_w18_small_v2_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "w18": "seg_hrnet_w18_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "w32": "seg_hrnet_w32_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "w48": "seg_hrnet_w48_trainval_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484x2.yaml",
    "ocr-w48": "seg_hrnet_ocr_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "lite-18": "seg_litehrnet_18_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "lite-30": "seg_litehrnet_30_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
}  # fmt: skip
OPTIMISER_KEYS = ("OPTIMIZER", "LR", "WD", "MOMENTUM", "NESTEROV")
WEIGHTINGS = ("none", "median", "enet")


@dataclass(frozen=True)
class Pair:
    """An image (None in labels-only mode) and its label, named by their common relative path
    without extension."""

    name: str
    image: Path | None
    label: Path


def _named(paths):
    paths = [str(p) for p in paths]
    shown = ", ".join(paths[:SHOW])
    return shown + (f", ... ({len(paths)} in all)" if len(paths) > SHOW else "")


def _files_by_name(folder, what):
    found = {}
    for path in image_files(folder, what):
        name = path.relative_to(folder).with_suffix("").as_posix()
        if name in found:
            raise DataError(f"two {what}s named {name}: {found[name]} and {path}")
        found[name] = path
    if not found:
        raise DataError(f"no {what} files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return found


def pair_files(image_dir, label_dir):
    """[Pair] of every label of `label_dir` with its image of `image_dir` (or None when
    `image_dir` is None). Refuses non-PNG labels and unpaired files."""
    labels = _files_by_name(label_dir, "label")
    not_png = [p for p in labels.values() if p.suffix.lower() != ".png"]
    if not_png:
        raise DataError(
            f"labels must be PNG (compression changes the values of JPEG and others): "
            f"{_named(not_png)}"
        )
    images = {}
    if image_dir is not None:
        if Path(image_dir).resolve() == Path(label_dir).resolve():
            raise DataError(f"images and labels are both in {image_dir}: give two folders")
        images = _files_by_name(image_dir, "image")
        lonely_labels = [labels[n] for n in labels if n not in images]
        lonely_images = [images[n] for n in images if n not in labels]
        if lonely_labels or lonely_images:
            parts = []
            if lonely_labels:
                parts.append(f"labels without an image in {image_dir}: {_named(lonely_labels)}")
            if lonely_images:
                parts.append(f"images without a label in {label_dir}: {_named(lonely_images)}")
            raise DataError(
                "unpaired files (paired by name without extension): " + "; ".join(parts)
            )
    return [Pair(name, images.get(name), labels[name]) for name in sorted(labels)]


def check_headers(pairs):
    """(label kind 'ids' or 'colors', [(width, height)]) of the pairs, checked from the file
    headers: one kind for all, and each label the size of its image."""
    kinds, wrong_size, sizes = {"ids": [], "colors": []}, [], []
    for pair in pairs:
        kind, size = label_kind(pair.label)
        sizes.append(size)
        kinds[kind].append(pair.label)
        if pair.image is not None:
            image = image_size(pair.image)
            if image != size:
                wrong_size.append(
                    f"{pair.label} is {size[0]}x{size[1]} but {pair.image} is {image[0]}x{image[1]}"
                )
    if kinds["ids"] and kinds["colors"]:
        raise DataError(
            f"the labels mix id labels (single-channel PNG: {_named(kinds['ids'])}) and colour "
            f"labels (RGB PNG: {_named(kinds['colors'])}); use one kind"
        )
    if wrong_size:
        raise DataError(f"labels of another size than their image: {_named(wrong_size)}")
    return ("ids" if kinds["ids"] else "colors"), sizes


def count_values(pairs, kind, progress=True):
    """{name: Counter(value -> pixels)} of every label: raw ids (int) or colours (R, G, B)."""
    counts = {}
    for pair in progress_bar(pairs, enabled=progress, unit="label", desc="values"):
        if kind == "ids":
            label = read_label(pair.label)
            values = np.bincount(label.ravel())
            counts[pair.name] = Counter({int(v): int(n) for v, n in enumerate(values) if n})
        else:
            rgb = read_image(pair.label, "rgb").reshape(-1, 3)
            colours, pixels = np.unique(rgb, axis=0, return_counts=True)
            counts[pair.name] = Counter(
                {
                    tuple(int(c) for c in colour): int(n)
                    for colour, n in zip(colours, pixels, strict=True)
                }
            )
    return counts


@dataclass(frozen=True)
class ClassValue:
    """One value found in the labels and the class it becomes (None: ignored)."""

    value: object  # raw id (int) or colour (R, G, B)
    pixels: int
    images: int
    class_index: int | None


def classes_of(counts, kind, ignore_values=()):
    """[ClassValue] of every value found, ordered by value; classes numbered in that order,
    skipping `ignore_values`."""
    total, images = Counter(), Counter()
    for per_file in counts.values():
        total.update(per_file)
        images.update(per_file.keys())
    found, index = [], 0
    for value in sorted(total):
        ignored = value in ignore_values
        found.append(ClassValue(value, total[value], images[value], None if ignored else index))
        index += not ignored
    classes = [v for v in found if v.class_index is not None]
    if len(classes) < 2:
        kept = ", ".join(str(v.value) for v in classes) or "none"
        ignored = ", ".join(str(v.value) for v in found if v.class_index is None) or "none"
        raise DataError(
            f"the labels hold {len(classes)} class value(s) ({kept}; ignored: {ignored}): "
            "nothing to tell apart. Binary masks of 0 and 255? 255 is the "
            "ignore value: write the object as 1"
        )
    if kind == "ids":
        too_large = [v.value for v in classes if v.value > 254]
        if too_large:
            holders = [name for name, values in counts.items() if set(values) & set(too_large)]
            raise DataError(
                f"id labels hold values {too_large[:SHOW]} above 254 (labels {_named(holders)}); "
                "class ids are 0..254 (255 is the ignore value)"
            )
    elif len(classes) > 254:
        most = sorted(counts, key=lambda name: -len(counts[name]))
        raise DataError(
            f"the colour labels hold {len(classes)} colours, more than 254 classes (most in "
            f"{_named(most)}): anti-aliased or compressed labels? Each class must be one exact "
            "colour"
        )
    return found


def class_table_text(found, kind):
    """The `colorMap.txt` text (`name id R G B` per class) for the classes of `found`."""
    palette = voc_palette()
    lines = [
        "# Class table written by tools/prepare_dataset.py: one class per line, 'name id R G B'.",
        "# Rename the classes; the line number is the class index, `id` the value in id labels,",
        "# R G B the colour in colour labels and pictures. Lines named 'ignore' are not classes:",
        "# their value is ignored (and so is id 255); any other value must have a line.",
    ]
    for v in found:
        ignored = v.class_index is None
        if kind == "ids":
            if v.value == IGNORE:  # always ignored
                continue
            raw_id, colour = v.value, palette[v.value]
        else:
            raw_id, colour = (IGNORE if ignored else v.class_index), v.value
        name = IGNORE_NAME if ignored else f"class_{raw_id}"
        lines.append(f"{name} {raw_id} {colour[0]} {colour[1]} {colour[2]}")
    return "\n".join(lines) + "\n"


def class_weights(counts, found, names, method):
    """Loss weight per class from the pixel counts of the labels `names` (the training split).

    - "median": median frequency balancing (Eigen & Fergus, ICCV 2015): w_c = median(f) / f_c,
      f_c = pixels of class c / pixels of the images in which c appears.
    - "enet": w_c = 1 / ln(1.02 + p_c), p_c = share of class c in all class pixels (ENet,
      Paszke et al. 2016).
    A class without training pixels gets 0. Returns [weight per class] (None for "none").
    """
    if method == "none":
        return None
    classes = [v for v in found if v.class_index is not None]
    pixels = np.zeros(len(classes))
    image_pixels = np.zeros(len(classes))
    for name in names:
        per_file = counts[name]
        size = sum(per_file.values())
        for k, v in enumerate(classes):
            if per_file.get(v.value):
                pixels[k] += per_file[v.value]
                image_pixels[k] += size
    present = pixels > 0
    weights = np.zeros(len(classes))
    if method == "median":
        frequency = pixels[present] / image_pixels[present]
        weights[present] = np.median(frequency) / frequency
    elif method == "enet":
        weights[present] = 1 / np.log(1.02 + pixels[present] / pixels.sum())
    else:
        raise UserError(f"class weights: unknown method {method!r} ({', '.join(WEIGHTINGS)})")
    return [round(float(w), 4) for w in weights]


def list_lines(pairs, names, root):
    """`image label` lines (paths relative to `root`) of the pairs named `names`."""
    by_name = {p.name: p for p in pairs}
    lines = []
    for name in names:
        pair = by_name[name]
        files = (pair.image, pair.label)
        paths = [Path(os.path.relpath(Path(p).resolve(), root)).as_posix() for p in files]
        spaced = [p for p in paths if any(c.isspace() for c in p)]
        if spaced:
            raise DataError(f"list files separate fields by whitespace; rename {spaced[0]}")
        lines.append(" ".join(paths) + "\n")
    return "".join(lines)


def common_root(*folders):
    """The deepest folder holding all `folders` (absolute)."""
    parts = [Path(f).resolve().parts for f in folders]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    return Path(*common)


def split(pairs, ratio, seed):
    """{'train', 'val', 'test'} names: a seeded shuffle cut by `ratio`; train and val must not
    be empty (training validates on val)."""
    splits = split_names([p.name for p in pairs], ratio, seed)
    empty = [s for s in ("train", "val") if not splits[s]]
    if empty:
        raise UserError(
            f"--ratio {' '.join(f'{r:g}' for r in ratio)} leaves {' and '.join(empty)} empty "
            f"with {len(pairs)} pairs; training needs both"
        )
    return splits


def experiment_config(template, settings):
    """The experiment YAML (a dict) of `settings` with the MODEL and LOSS sections and the
    optimiser of the experiment `template`. `settings`: root, color_map, num_classes, weights,
    crop (w, h), base_size, batch_size, epochs, workers, pretrained."""
    with open(template, encoding="utf-8") as f:
        source = yaml.safe_load(f)
    model = dict(source["MODEL"])
    model["PRETRAINED"] = settings["pretrained"]
    train = source.get("TRAIN", {})
    dataset = {
        "DATASET": "custom",
        "ROOT": settings["root"],
        "COLOR_MAP": settings["color_map"],
        "TRAIN_SET": "train.lst",
        "TEST_SET": "val.lst",
        "NUM_CLASSES": settings["num_classes"],
    }
    if settings["weights"]:
        dataset["CLASS_WEIGHTS"] = settings["weights"]
    return {
        "OUTPUT_DIR": "output",
        "LOG_DIR": "log",
        "WORKERS": settings["workers"],
        "PRINT_FREQ": 10,
        "DATASET": dataset,
        "MODEL": model,
        "LOSS": source.get("LOSS", {}),
        "TRAIN": {
            "IMAGE_SIZE": list(settings["crop"]),
            "BASE_SIZE": settings["base_size"],
            "BATCH_SIZE_PER_GPU": settings["batch_size"],
            "SHUFFLE": True,
            "END_EPOCH": settings["epochs"],
            **{k: train[k] for k in OPTIMISER_KEYS if k in train},
            "FLIP": True,
            "MULTI_SCALE": True,
            "SCALE_FACTOR": 16,
            "IGNORE_LABEL": 255,
        },
        "TEST": {
            "IMAGE_SIZE": list(settings["crop"]),
            "BASE_SIZE": settings["base_size"],
            "BATCH_SIZE_PER_GPU": 1,
        },
    }


def dump_yaml(config, header):
    """YAML text of `config` with `header` as comment lines; short lists inline."""
    comment = "".join(f"# {line}\n" for line in header)
    return comment + yaml.safe_dump(config, sort_keys=False, default_flow_style=None, width=100)


def parse_ignore(values, kind):
    """The `--ignore` values as label values of `kind`: ids (`255`) or colours (`224,224,192`)."""
    parsed = []
    for text in values:
        fields = text.split(",")
        try:
            numbers = tuple(int(f) for f in fields)
        except ValueError:
            raise UserError(
                f"--ignore {text!r}: expected an id (255) or a colour (R,G,B)"
            ) from None
        if (kind == "ids") != (len(numbers) == 1) or (kind == "colors" and len(numbers) != 3):
            expected = "ids such as 255" if kind == "ids" else "colours R,G,B"
            raise UserError(f"--ignore {text!r}: these are {kind} labels, so {expected}")
        parsed.append(numbers[0] if kind == "ids" else numbers)
    return parsed


@dataclass
class Prepared:
    """What `prepare` found and wrote."""

    kind: str
    pairs: list
    found: list
    files: dict = field(default_factory=dict)  # what -> path written
    counts: dict = field(default_factory=dict)  # split -> number of pairs
    weights: list | None = None
    notes: list = field(default_factory=list)


def write_all(texts, force=False):
    """Write {path: text}, creating folders; nothing is written if a file exists, unless
    `force`."""
    existing = [p for p in texts if Path(p).exists()]
    if existing and not force:
        raise UserError(f"{_named(existing)} exist(s); pass --force to replace")
    for path, text in texts.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def template_file(model):
    """The experiment YAML of `--model`: a MODEL_TEMPLATES name or a YAML file."""
    if model in MODEL_TEMPLATES:
        return EXPERIMENTS / "cityscapes" / MODEL_TEMPLATES[model]
    if not model.endswith(".yaml"):
        raise UserError(f"--model {model}: not one of {', '.join(MODEL_TEMPLATES)} nor a YAML file")
    if not Path(model).is_file():
        raise UserError(f"--model {model} does not exist")
    return Path(model)


def imagenet_file(template, notes):
    """MODEL.PRETRAINED of `template` when that file is there, else '' with a note."""
    with open(template, encoding="utf-8") as f:
        pretrained = (yaml.safe_load(f)["MODEL"] or {}).get("PRETRAINED") or ""
    if pretrained and not Path(pretrained).is_file():
        notes.append(
            f"MODEL.PRETRAINED {pretrained} (the ImageNet weights of {template.name}) is not "
            "there, so the YAML trains from scratch: put the file there "
            "(pretrained_models/README.md) and set MODEL.PRETRAINED to start from ImageNet"
        )
        return ""
    return pretrained


def prepare(
    labels,
    images=None,
    out=None,
    yaml_path=None,
    model="w18-small-v1",
    crop=(512, 512),
    ratio=(8, 2, 0),
    seed=0,
    weighting="none",
    ignore=(),
    epochs=100,
    batch_size=8,
    workers=4,
    force=False,
    progress=True,
):
    """Check and describe the labels (and images); write colorMap.txt and, with images, the
    train/val(/test) lists and an experiment YAML of `model` (see `template_file`) for `crop`
    (width, height) into `out` (default: the folder holding both). Returns a `Prepared`."""
    template = template_file(model) if images is not None else None
    pairs = pair_files(images, labels)
    kind, sizes = check_headers(pairs)
    ignore_values = parse_ignore(ignore, kind) + ([255] if kind == "ids" else [])
    counts = count_values(pairs, kind, progress)
    found = classes_of(counts, kind, set(ignore_values))
    result = Prepared(kind, pairs, found)
    root = Path(out).resolve() if out else common_root(*(f for f in (images, labels) if f))
    texts = {root / "colorMap.txt": class_table_text(found, kind)}
    result.files["class table"] = root / "colorMap.txt"
    if template is None:
        result.weights = class_weights(counts, found, list(counts), weighting)
        write_all(texts, force)
        return result
    splits = split(pairs, ratio, seed)
    for split_name, names in splits.items():
        if names:
            texts[root / f"{split_name}.lst"] = list_lines(pairs, names, root)
            result.files[f"{split_name} list"] = root / f"{split_name}.lst"
            result.counts[split_name] = len(names)
    result.weights = class_weights(counts, found, splits["train"], weighting)
    name = template.stem if template.name == Path(model).name else model
    yaml_path = Path(
        yaml_path or Path("experiments") / root.name / f"{name}_{crop[0]}x{crop[1]}.yaml"
    )
    settings = {
        "root": shown_path(root),
        "color_map": shown_path(root / "colorMap.txt"),
        "num_classes": sum(v.class_index is not None for v in found),
        "weights": result.weights,
        "crop": crop,
        "base_size": int(np.median([max(size) for size in sizes])),
        "batch_size": batch_size,
        "epochs": epochs,
        "workers": workers,
        "pretrained": imagenet_file(template, result.notes),
    }
    header = [
        f"{root.name}: {len(pairs)} {'id' if kind == 'ids' else 'colour'} labels, written by "
        "tools/prepare_dataset.py",
        f"model and optimiser of {template.name}; TRAIN.BASE_SIZE is the median long side",
    ]
    texts[yaml_path] = dump_yaml(experiment_config(template, settings), header)
    result.files["experiment"] = yaml_path
    write_all(texts, force)
    return result


def format_values(found, kind):
    """The values found as an aligned table: value, class, pixels, share, images."""
    total = sum(v.pixels for v in found)
    body = []
    for v in found:
        value = str(v.value) if kind == "ids" else ",".join(str(c) for c in v.value)
        target = "ignored" if v.class_index is None else f"class {v.class_index}"
        body.append([value, target, str(v.pixels), f"{100 * v.pixels / total:.2f}%", str(v.images)])
    header = ["id" if kind == "ids" else "colour", "becomes", "pixels", "share", "images"]
    return format_table(header, body)
