"""README's "Reproduce a release": every row's command evaluates that row's file, dataset, model
and test setting (parsed by tools/test.py and loaded as it loads them; the checkpoints
themselves are not available offline)."""

import re
import shlex
from pathlib import Path

import pytest

import datasets
from config import load_config
from helpers.paths import REPO
from helpers.tools import load_tool

test_tool = load_tool("test")

SECTION = re.search(
    r"^## Reproduce a release\n(.*?)^## ",
    (REPO / "README.md").read_text(encoding="utf-8"),
    flags=re.S | re.M,
).group(1)
ROWS = {
    int(cells[0]): cells
    for cells in (
        [c.strip() for c in line.strip("|").split("|")]
        for line in SECTION.splitlines()
        if re.match(r"\| \d+ \|", line)
    )
}
COMMANDS = {  # number -> (its heading, the command on one line)
    int(number): (heading, command.replace("\\\n", " "))
    for number, heading, command in re.findall(
        r"^# (\d+)\. (.*)\n(python tools/test\.py (?:.*\\\n)*.*)$", SECTION, flags=re.M
    )
}
DATASETS = {  # the table's dataset -> DATASET.DATASET, and the list the original README names
    "Cityscapes val": ("cityscapes", "list/cityscapes/val.lst"),
    "Cityscapes test": ("cityscapes", "list/cityscapes/test.lst"),
    "LIP val": ("lip", "list/lip/testvalList.txt"),
    "PASCAL-Context val, 59 classes": ("pascal_ctx", "testval"),
    "PASCAL-Context val, 60 classes": ("pascal_ctx", "testval"),
    "COCO-Stuff val": ("cocostuff", "list/cocostuff/testval.lst"),
    "ADE20K val": ("ade20k", "list/ade20k/testval.lst"),
}


def test_every_row_has_one_command():
    assert len(ROWS) >= 29 and sorted(COMMANDS) == sorted(ROWS)


@pytest.mark.parametrize("number", sorted(ROWS))
def test_command_evaluates_its_rows_checkpoint_with_the_original_setting(number):
    _, _, dataset, model, file, published, setting, _ = ROWS[number]
    heading, command = COMMANDS[number]
    assert heading.startswith(dataset) and heading.endswith(f": {published} ({setting})")
    argv = shlex.split(command)[2:]
    args = test_tool.parse_args(argv)
    assert args.exact  # the model in fp32, as the original ran it
    cfg = load_config(str(REPO / args.cfg), args.opts)

    assert Path(cfg.TEST.MODEL_FILE).name == re.match(r"`([^`]+)`", file).group(1)
    name, test_set = DATASETS[dataset]
    assert (cfg.DATASET.DATASET, cfg.DATASET.TEST_SET) == (name, test_set)
    if test_set.startswith("list/"):
        assert (REPO / cfg.DATASET.ROOT / test_set).is_file()
    policy = datasets.get_dataset_class(name).test_policy
    assert policy == ("cityscapes" if name == "cityscapes" else "base") and not cfg.TEST.POLICY
    classes = re.search(r"(\d+) classes", dataset)
    if classes:
        assert cfg.DATASET.NUM_CLASSES == int(classes.group(1))

    assert (cfg.MODEL.NAME == "seg_hrnet_ocr") == ("+ OCR" in model)
    assert cfg.LOSS.USE_OHEM == ("OHEM" in model)
    width = re.search(r"HRNetV2-(W\d+(?:-Small-v\d)?)", model).group(1)
    assert width.lower().replace("-", "_") in Path(args.cfg).name
    assert ("trainval" in Path(args.cfg).name) == ("train + val" in model)

    scales = [float(s) for s in cfg.TEST.SCALE_LIST]
    expected = {
        "single scale": ([1.0], False),
        "flip": ([1.0], True),
        "multi-scale + flip": (
            [0.5, 0.75, 1.0, 1.25, 1.5, 1.75] + ([] if name == "cityscapes" else [2.0]),
            True,
        ),
    }[setting]
    assert (scales, cfg.TEST.FLIP_TEST) == expected
