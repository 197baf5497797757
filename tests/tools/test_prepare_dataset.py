"""tools/prepare_dataset.py: folders of id labels and of colour labels become data and a YAML
that tools/train.py trains on unchanged; inconsistent folders are refused naming the files."""

import re

import numpy as np
import pytest
import yaml
from PIL import Image

from datasets.demo_data import CLASSES, make_sample
from helpers.model_specs import TINY_MODEL
from helpers.tools import load_tool
from utils.cli import run_tool
from utils.colormap import ClassTable
from utils.image_io import write_image

prepare_dataset = load_tool("prepare_dataset")
train = load_tool("train")

IDS = {raw_id: new for (_, raw_id, _), new in zip(CLASSES, (0, 1, 3, 7), strict=True)}
COLOURS = {raw_id: colour for _, raw_id, colour in CLASSES}
IGNORE_COLOUR = (255, 255, 255)


def write_folder(root, kind, count=6, size=48, seed=0):
    """`count` images and labels under root/images, root/labels; id labels hold 0, 1, 3, 7 and a
    band of 255 (ignored), colour labels the demo colours and a band of IGNORE_COLOUR. Returns
    {name: label array as written}."""
    rng = np.random.default_rng(seed)
    (root / "labels").mkdir(parents=True)
    labels = {}
    for index in range(count):
        image, label = make_sample(rng, size)
        name = f"img_{index}"
        write_image(root / "images" / f"{name}.jpg", image)
        if kind == "ids":
            written = np.vectorize(IDS.get)(label).astype(np.uint8)
            written[:3] = 255
        else:
            written = np.array([COLOURS[v] for v in label.ravel()], np.uint8).reshape(size, size, 3)
            written[:3] = IGNORE_COLOUR
        Image.fromarray(written).save(root / "labels" / f"{name}.png")
        labels[name] = written
    return labels


def run(tmp_path, *args):
    args = [
        "--images", str(tmp_path / "data/images"), "--labels", str(tmp_path / "data/labels"),
        "--crop", "32", "32", "--epochs", "1", "--batch-size", "2", "--workers", "0",
        "--ratio", "2", "4", "0", "--quiet", *args,
    ]  # fmt: skip
    return prepare_dataset.main(args)


def test_id_labels_become_a_dataset_that_trains(tmp_path, monkeypatch, capsys):
    labels = write_folder(tmp_path / "data", "ids")
    monkeypatch.chdir(tmp_path)
    assert run(tmp_path) == 0
    out = capsys.readouterr().out
    values, pixels = np.unique(np.stack(list(labels.values())), return_counts=True)
    for value, count in zip(values, pixels, strict=True):
        share = f"{100 * count / pixels.sum():.2f}%"
        becomes = "ignored" if value == 255 else f"class {list(values).index(value)}"
        assert re.search(rf"\n{value} +{becomes} +{count} +{share} ", out), value
    table = ClassTable.from_file(tmp_path / "data/colorMap.txt")
    assert list(table.ids) == [0, 1, 3, 7]
    train_lines = (tmp_path / "data/train.lst").read_text().splitlines()
    val_lines = (tmp_path / "data/val.lst").read_text().splitlines()
    assert (
        len(train_lines) == 2 and len(val_lines) == 4 and not (tmp_path / "data/test.lst").exists()
    )
    listed = sorted(line.split()[1] for line in train_lines + val_lines)
    assert listed == [f"labels/{name}.png" for name in sorted(labels)]
    cfg_file = tmp_path / "experiments/data/w18-small-v1_32x32.yaml"
    assert f"python tools/train.py --cfg {cfg_file.relative_to(tmp_path)}" in out
    cfg = yaml.safe_load(cfg_file.read_text())
    assert cfg["DATASET"]["NUM_CLASSES"] == 4 and cfg["TRAIN"]["BASE_SIZE"] == 48
    assert cfg["MODEL"]["EXTRA"]["STAGE4"]["NUM_CHANNELS"] == [16, 32, 64, 128]  # W18-Small-v1
    assert train.main(["--cfg", str(cfg_file), "--device", "cpu"]) == 0
    assert (tmp_path / "output/custom/w18-small-v1_32x32/final_state.pth").is_file()


def test_colour_labels_become_a_dataset_that_trains(tmp_path, monkeypatch, capsys):
    labels = write_folder(tmp_path / "data", "colors")
    template = tmp_path / "tiny.yaml"
    template.write_text(TINY_MODEL)
    monkeypatch.chdir(tmp_path)
    assert run(tmp_path, "--model", str(template), "--ignore", "255,255,255") == 0
    colours = np.unique(np.concatenate([a.reshape(-1, 3) for a in labels.values()]), axis=0)
    colours = [tuple(c) for c in colours if tuple(c) != IGNORE_COLOUR]
    table = ClassTable.from_file(tmp_path / "data/colorMap.txt")
    assert [tuple(c) for c in table.colors] == sorted(colours)
    assert table.ignored_colors.tolist() == [list(IGNORE_COLOUR)]  # a line 'ignore 255 R G B'
    assert "255,255,255  ignored" in capsys.readouterr().out
    cfg_file = tmp_path / "experiments/data/tiny_32x32.yaml"
    assert train.main(["--cfg", str(cfg_file), "--device", "cpu"]) == 0


def shares(labels, names, values):
    """Per value: (pixels in the images of `names`, pixels of the images holding it)."""
    pixels = np.array([sum((labels[n] == v).sum() for n in names) for v in values], float)
    holding = np.array(
        [sum(labels[n].size for n in names if (labels[n] == v).any()) for v in values]
    )
    return pixels, holding


def test_class_weights_follow_their_definitions(tmp_path, monkeypatch):
    labels = write_folder(tmp_path / "data", "ids")
    monkeypatch.chdir(tmp_path)
    weights = {}
    for method in ("median", "enet"):
        assert run(tmp_path, "--class-weights", method, "--force", "--model", "w18") == 0
        cfg = yaml.safe_load((tmp_path / "experiments/data/w18_32x32.yaml").read_text())
        weights[method] = cfg["DATASET"]["CLASS_WEIGHTS"]
    lines = (tmp_path / "data/train.lst").read_text().splitlines()
    names = [line.split()[1].removeprefix("labels/").removesuffix(".png") for line in lines]
    pixels, holding = shares(labels, names, [0, 1, 3, 7])
    frequency = pixels / holding
    assert weights["median"] == pytest.approx(np.median(frequency) / frequency, abs=1e-4)
    assert weights["enet"] == pytest.approx(1 / np.log(1.02 + pixels / pixels.sum()), abs=1e-4)


def test_labels_only_describes_and_writes_the_class_table(tmp_path, capsys):
    write_folder(tmp_path / "data", "ids")
    labels = str(tmp_path / "data/labels")
    assert prepare_dataset.main(["--labels", labels, "--out", str(tmp_path / "t"), "--quiet"]) == 0
    assert (tmp_path / "t/colorMap.txt").is_file() and not (tmp_path / "t/train.lst").exists()
    assert "6 id labels" in capsys.readouterr().out


def refusal(tmp_path, capsys, *args):
    assert run_tool(prepare_dataset.main, ["--out", str(tmp_path / "out"), *args]) == 2
    assert not (tmp_path / "out").exists()  # nothing written
    return capsys.readouterr().err


def test_inconsistent_folders_are_refused_naming_the_files(tmp_path, capsys):
    data = tmp_path / "data"
    write_folder(data, "ids", count=4)
    folders = ["--images", str(data / "images"), "--labels", str(data / "labels"), "--quiet"]
    write_image(data / "images/extra.jpg", np.zeros((48, 48, 3), np.uint8))
    err = refusal(tmp_path, capsys, *folders)
    assert "images without a label" in err and "extra.jpg" in err
    (data / "images/extra.jpg").unlink()

    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(data / "labels/img_1.png")
    err = refusal(tmp_path, capsys, *folders)
    assert "mix id labels" in err and "img_0.png" in err and "img_1.png" in err

    Image.fromarray(np.zeros((40, 48), np.uint8)).save(data / "labels/img_1.png")
    err = refusal(tmp_path, capsys, *folders)
    assert f"{data / 'labels/img_1.png'} is 48x40 but {data / 'images/img_1.jpg'} is 48x48" in err

    Image.fromarray(np.full((48, 48), 300, np.uint16)).save(data / "labels/img_1.png")
    err = refusal(tmp_path, capsys, *folders)
    assert "values [300] above 254 (labels img_1)" in err

    (data / "labels/img_1.png").unlink()
    write_image(data / "labels/img_1.jpg", np.zeros((48, 48, 3), np.uint8))
    err = refusal(tmp_path, capsys, *folders)
    assert "labels must be PNG" in err and "img_1.jpg" in err


def test_nothing_is_overwritten_without_force(tmp_path, monkeypatch, capsys):
    write_folder(tmp_path / "data", "ids", count=4)
    monkeypatch.chdir(tmp_path)
    table = tmp_path / "data/colorMap.txt"
    table.write_text("my_background 0 0 0 0\n")
    assert run_tool(lambda argv: run(tmp_path), []) == 2
    assert "colorMap.txt exist(s); pass --force" in capsys.readouterr().err
    assert table.read_text() == "my_background 0 0 0 0\n"
    assert not (tmp_path / "data/train.lst").exists()


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        prepare_dataset.parse_args(["--help"])
    assert (
        "\n  python tools/prepare_dataset.py --images data/mydata/images" in capsys.readouterr().out
    )
