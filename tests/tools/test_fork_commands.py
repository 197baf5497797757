"""Every command of README's fork tables runs as written, on synthetic data in README's layouts.

The rows are read from README.md: every table whose last column is "here" (the forks' command
table and the tables of the per-fork sections). Each command of that column (a code span that
starts with `python ` or `torchrun `) is run from a fresh copy of the repository root holding
synthetic data, in README order per fork, so that later rows find what earlier ones wrote (the
run's weights, the crops of preprocessPanorama). Capital-letter placeholders stand for the
folders of PLACEHOLDERS; a row that introduces a new one extends that table. Optional flags in
brackets (`[--encoding color]`) are left out.

Speed: tools that take `--cfg` get the KEY VALUE overrides of SMALL (64x64 crops, no loader
workers) that the row does not set itself, train.py also those of ONE_ITERATION, and the model
is narrowed (TINY_MODEL: fewer channels and blocks, same architecture family). Missing weights
are made from the row's config with random values: MODEL.PRETRAINED (after checking that its
absence stops the run naming the file), `--pth` and `TEST.MODEL_FILE`. `python tools/X.py` runs
in this process (`X.main(argv)`); `torchrun` runs as a subprocess, as written.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import models
from config import load_config, run_dirs
from helpers.model_specs import TINY_EXTRA, TINY_LITE, TINY_OCR
from helpers.paths import REPO
from helpers.tools import load_tool
from models.hrnet import BACKBONE_PREFIXES
from utils.colormap import ClassTable
from utils.errors import CheckpointError
from utils.image_io import write_image, write_png

PLACEHOLDERS = {
    "R": "data/panorama_raw",  # panorama stores
    "D": "data/panorama",  # a dataset folder: image/, label/, lists
    "P": "data/panorama/predict",  # saved predictions
    "O": "out",  # an output folder
    "JOB.json": "data/daodixian_job.json",  # an annotation job
    "I": "data/daodixian_raw",  # its images
    "S": "data/scenes",  # large scenes to tile
    "T": "data/tiles",  # their tiles
}
# Where a fork's rows mean another folder by the same letter.
GROUP_PLACEHOLDERS = {"ssj": {"P": "data/daodixian_pred"}}  # 0/255 wire masks of I's images
SMALL = {
    "WORKERS": "0",
    "TRAIN.IMAGE_SIZE": "[64, 64]",
    "TRAIN.BASE_SIZE": "64",
    "TEST.IMAGE_SIZE": "[64, 64]",
    "TEST.BASE_SIZE": "64",
    "TEST.BATCH_SIZE_PER_GPU": "1",
}
TINY_MODEL = {  # MODEL.NAME -> overrides that narrow it
    "seg_hrnet": TINY_EXTRA,
    "seg_hrnet_ocr": [*TINY_EXTRA, *TINY_OCR],
    "seg_hrnet_hanet": TINY_EXTRA,
    "seg_litehrnet": TINY_LITE,
}
ONE_ITERATION = {
    "TRAIN.END_EPOCH": "1",
    "TRAIN.EXTRA_EPOCH": "0",
    "TRAIN.BATCH_SIZE_PER_GPU": "2",
}


@dataclass(frozen=True)
class Row:
    group: str  # the fork (first word of the "fork" column) or the section heading
    line: int  # README line
    command: str


def split_cells(line):
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [cell.strip().replace("\\|", "|") for cell in cells]


def fork_rows(text):
    """The commands of every README table whose last column is "here", in README order."""
    rows, heading, header = [], "", None
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if not line.startswith("|"):
            header = None
            continue
        cells = split_cells(line)
        if header is None:
            header = [cell.lower() for cell in cells]
            continue
        if not header or header[-1] != "here" or set(line) <= set("|-: "):
            continue
        group = cells[header.index("fork")].split()[0].lower() if "fork" in header else heading
        for span in re.findall(r"`([^`]+)`", cells[-1]):
            if span.startswith(("python ", "torchrun ")):
                rows.append(Row(group, line_no, span))
    return rows


ROWS = fork_rows((REPO / "README.md").read_text(encoding="utf-8"))
GROUPS = list(dict.fromkeys(row.group for row in ROWS))


def test_readme_tables_cover_the_forks():
    assert {"panorama", "ai702", "ssj", "land-use"} <= set(GROUPS)


def argv_of(row):
    """The row's command words, placeholders replaced and optional `[--flag value]` parts
    dropped."""
    placeholders = {**PLACEHOLDERS, **GROUP_PLACEHOLDERS.get(row.group, {})}
    words = shlex.split(re.sub(r"\s\[--[^\]]*\]", "", row.command))
    out = []
    for word in words:
        head, sep, rest = word.partition("/")
        out.append(placeholders[head] + sep + rest if head in placeholders else word)
    return out


def launch(argv):
    """(script, its arguments, torchrun options or None) of a `python`/`torchrun` command."""
    if argv[0] == "python":
        return argv[1], argv[2:], None
    assert argv[0] == "torchrun", argv
    script = next(i for i, word in enumerate(argv) if word.endswith(".py"))
    return argv[script], argv[script + 1 :], argv[1:script]


def test_every_row_parses_and_its_config_loads(monkeypatch):
    """Fast: each row names an existing tool, its flags parse, its YAML and KEY VALUE load."""
    monkeypatch.chdir(REPO)
    for row in ROWS:
        script, args, _ = launch(argv_of(row))
        assert (REPO / script).is_file(), f"README line {row.line}: {script} does not exist"
        parsed = tool(script).parse_args(args)
        if getattr(parsed, "cfg", None):
            load_config(parsed.cfg, getattr(parsed, "opts", []))


def tool(script):
    return load_tool(Path(script).stem)


# -- synthetic data in README's layouts -------------------------------------------------------


def image(height, width, seed):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (3, 4, 3)).astype(np.float32)
    return cv2.resize(coarse, (width, height)).astype(np.uint8)


def regions(values, height, width, seed):
    rng = np.random.default_rng(seed)
    grid = rng.choice(np.asarray(values, np.uint8), (3, 4))
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST)


def write_lines(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_panorama(data):
    """data/panorama (crops, raw-id labels, lists, predictions) and data/panorama_raw (stores of
    panoramas with colour labels), as README's panorama section lays them out."""
    table = ClassTable.from_file(REPO / "colorMap.txt")
    names = [f"store1_{i}_0_50" for i in range(6)]
    for i, name in enumerate(names):
        write_image(data / "panorama" / "image" / f"{name}.jpg", image(48, 64, i))
        label = regions(table.ids[:6], 48, 64, i)
        write_png(data / "panorama" / "label" / f"{name}.png", label)
        write_png(data / "panorama" / "predict" / f"{name}.png", regions(table.ids[:6], 48, 64, 9))
    for split, part in (("train", names[:4]), ("val", names[4:5]), ("test", names[5:])):
        write_lines(data / "panorama" / f"{split}_list.txt", part)
    for store in ("store1", "store2"):
        write_image(data / "panorama_raw" / store / "1.jpg", image(64, 128, 7))
        colours = table.colors[regions(np.arange(6), 64, 128, 8)]
        write_image(data / "panorama_raw" / store / "1.png", colours)


def write_cityscapes(data):
    for split, count in (("train", 4), ("val", 2)):
        lines = []
        for i in range(count):
            stem = f"aachen_{i:06d}_000019"
            picture = f"leftImg8bit/{split}/aachen/{stem}_leftImg8bit.png"
            label = f"gtFine/{split}/aachen/{stem}_gtFine_labelIds.png"
            write_image(data / "cityscapes" / picture, image(64, 64, i))
            write_png(data / "cityscapes" / label, regions([0, 7, 8, 11, 21, 26], 64, 64, i))
            lines.append(f"{picture}\t{label}")
        write_lines(data / "list" / "cityscapes" / f"{split}.lst", lines)


def write_daodixian(data):
    for split, count in (("train_1209", 8), ("val_1209", 4)):
        lines = []
        for i in range(count):
            picture, label = f"{split}/images/{i:032x}.jpeg", f"{split}/annotations/{i:032x}.png"
            write_image(data / "daodixian_seg" / picture, image(64, 64, i))
            write_png(data / "daodixian_seg" / label, regions([0, 1], 64, 64, i))
            lines.append(f"{picture}  {label}")
        write_lines(data / "list" / "daodixian_seg" / f"{split}.lst", lines)
    write_lines(data / "list" / "daodixian_seg" / "test_1209.lst", [lines[0].split()[0]])
    items = []
    for i in range(3):
        write_image(data / "daodixian_raw" / f"job{i}.jpeg", image(64, 64, i))
        write_png(data / "daodixian_pred" / f"job{i}.png", regions([0, 255], 64, 64, i))
        poly = [[0.1, 0.2], [0.5, 0.2], [0.5, 0.6], [0.1, 0.6]]
        items.append({"uris": [f"bucket/job{i}.jpeg"], "results": {"polys": [{"poly": poly}]}})
    (data / "daodixian_job.json").write_text(json.dumps({"items": items}))


def write_urbanisation(data):
    """x/train + y/train (grey DeepGlobe labels), x/test, and the lists a --val-ratio split
    writes (val pairs taken from x/train); large scenes to tile in data/scenes."""
    greys = [0, 178, 225, 105, 149, 29, 255]
    pairs = []
    for i in range(8):
        picture, label = f"x/train/{i:03d}_sat.jpg", f"y/train/{i:03d}_mask.png"
        write_image(data / "urbanisation" / picture, image(64, 64, i))
        write_png(data / "urbanisation" / label, regions(greys, 64, 64, i))
        pairs.append(f"{picture} {label}")
    write_image(data / "urbanisation" / "x/test/100_sat.jpg", image(64, 64, 9))
    write_lines(data / "list" / "urbanisation" / "train.lst", pairs[:6])
    write_lines(data / "list" / "urbanisation" / "val.lst", pairs[6:])
    write_lines(data / "list" / "urbanisation" / "test.lst", ["x/test/100_sat.jpg"])
    write_image(data / "scenes" / "scene.png", image(1100, 1100, 3))


def write_video(path, frames=3):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (64, 48))
    for i in range(frames):
        writer.write(image(48, 64, i))
    writer.release()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A repository root as a fresh clone has it (code, YAMLs, class tables, an empty
    pretrained_models/) plus synthetic data in every layout the fork tables use."""
    root = tmp_path_factory.mktemp("clone")
    for name in ("lib", "tools", "experiments"):
        (root / name).symlink_to(REPO / name)
    for path in REPO.glob("*.txt"):
        (root / path.name).symlink_to(path)
    (root / "pretrained_models").mkdir()
    data = root / "data"
    write_panorama(data)
    write_cityscapes(data)
    write_daodixian(data)
    write_urbanisation(data)
    write_video(root / "input.mp4")
    return root


# -- running the rows -------------------------------------------------------------------------


def config_keys(opts):
    return set(opts[0::2])


def with_overrides(script, args, processes):
    """`args` plus the SMALL (and, for train.py, ONE_ITERATION) overrides it does not set and
    those of TINY_MODEL."""
    if "--cfg" not in args:
        return args
    parsed = tool(script).parse_args(args)
    opts = getattr(parsed, "opts", [])
    overrides = dict(SMALL)
    if Path(script).name == "train.py":
        overrides.update(ONE_ITERATION)
        # one batch and one validation image per process (a process without a validation
        # image would hang in DDP's buffer broadcast of the first validation forward)
        overrides["TRAIN.NUM_SAMPLES"] = str(2 * processes)
        overrides["TEST.NUM_SAMPLES"] = str(processes)
    given = config_keys(opts)
    extra = [word for key, value in overrides.items() if key not in given for word in (key, value)]
    name = load_config(parsed.cfg, opts).MODEL.NAME
    return [*args, *extra, *TINY_MODEL.get(name, [])]


def random_weights(cfg, path, backbone_only=False):
    """Save a randomly initialised model of `cfg` at `path` (`model.` layout): every tensor, or
    with `backbone_only` the backbone's alone, as an ImageNet file holds them."""
    state = models.build_model(cfg, pretrained=False).state_dict()
    if backbone_only:
        state = {k: v for k, v in state.items() if k.startswith(BACKBONE_PREFIXES)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({f"model.{k}": v for k, v in state.items()}, path)


def prepare(script, args, checked):
    """Make the weights files the row needs but a fresh clone lacks; check first that a missing
    MODEL.PRETRAINED stops the run naming it."""
    if "--cfg" not in args:
        return
    parsed = tool(script).parse_args(args)
    cfg = load_config(parsed.cfg, getattr(parsed, "opts", []))
    pretrained = cfg.MODEL.PRETRAINED
    if Path(script).name == "train.py" and pretrained and not Path(pretrained).is_file():
        if pretrained not in checked:
            with pytest.raises(CheckpointError, match=re.escape(pretrained)):
                models.build_model(cfg)
            checked.add(pretrained)
        # an ImageNet backbone, unless the row fine-tunes a segmentation checkpoint
        random_weights(cfg, Path(pretrained), backbone_only=not cfg.MODEL.FINETUNE_REINIT)
    for weights in (getattr(parsed, "pth", None), cfg.TEST.MODEL_FILE):
        if weights and weights.endswith(".pth") and not Path(weights).is_file():
            random_weights(cfg, Path(weights))
    if Path(script).name == "train.py":
        shutil.rmtree(run_dirs(cfg, parsed.cfg)[0], ignore_errors=True)  # a new run each time


def run_row(row, root, checked):
    """Run one row from `root` (the working folder); `checked` holds the MODEL.PRETRAINED files
    whose absence was checked already."""
    script, args, torchrun = launch(argv_of(row))
    processes = 1
    if torchrun:
        flag = next((w for w in torchrun if w.startswith("--nproc_per_node")), "=1")
        processes = int(flag.split("=")[-1])
    args = with_overrides(script, args, processes)
    prepare(script, args, checked)
    where = f"README line {row.line}: {row.command}"
    if torchrun is None:
        assert tool(script).main(args) == 0, where
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", *torchrun, script, *args]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{where}\n{result.stderr[-3000:]}"


def run_group(group, template, tmp_path, monkeypatch, keep=lambda row: True):
    root = tmp_path / "clone"
    shutil.copytree(template, root, symlinks=True)
    monkeypatch.chdir(root)
    checked = set()
    for row in ROWS:
        if row.group == group and keep(row):
            run_row(row, root, checked)


def without_model(row):
    return "--cfg" not in argv_of(row)


@pytest.mark.parametrize(
    "group", [g for g in GROUPS if any(r.group == g and without_model(r) for r in ROWS)]
)
def test_fork_data_tool_commands_run(group, template, tmp_path, monkeypatch):
    """Fast: the rows that need no model (data tools), in order."""
    run_group(group, template, tmp_path, monkeypatch, keep=without_model)


@pytest.mark.slow
@pytest.mark.parametrize("group", GROUPS)
def test_fork_commands_run_as_written(group, template, tmp_path, monkeypatch):
    """Every row, training and testing included (one iteration each)."""
    run_group(group, template, tmp_path, monkeypatch)
