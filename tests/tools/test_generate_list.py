"""tools/generate_list.py: the ignore-pixel filter, the list files, the DeepGlobe layout."""

import random

import numpy as np
import pytest

import datasets
from config import load_config
from helpers.tools import load_tool
from utils.cli import run_tool
from utils.errors import DataError
from utils.image_io import write_image, write_png

generate_list = load_tool("generate_list")


def make_dataset(root, ignore_pixels):
    """10x10 labels; label i has ignore_pixels[i] pixels at 255; 'orphan' has no image."""
    for i, count in enumerate(ignore_pixels):
        label = np.zeros(100, np.uint8)
        label[:count] = 255
        write_png(root / "label" / f"p{i}.png", label.reshape(10, 10))
        write_image(root / "image" / f"p{i}.jpg", np.zeros((10, 10, 3), np.uint8))
    write_png(root / "label" / "orphan.png", np.zeros((10, 10), np.uint8))


def test_tool_filters_and_writes_lists(tmp_path, capsys):
    root = tmp_path / "合并"
    ignore = [0, 0, 0, 0, 0, 1, 2, 50]  # 1% is kept, 2% and 50% are not
    make_dataset(root, ignore)
    generate_list.main(["--data-dir", str(root / "label"), "--ratio", "4", "1", "1", "--quiet"])
    lists = {
        s: (root / f"{s}_list.txt").read_text(encoding="utf-8").split()
        for s in ("train", "val", "test")
    }
    kept = sorted(sum(lists.values(), []))
    assert kept == [f"p{i}" for i in range(6)]
    assert [len(lists[s]) for s in ("train", "val", "test")] == [4, 1, 1]
    dropped = (root / "dropped.txt").read_text(encoding="utf-8")
    assert "p6\t2.00% of the pixels are 255" in dropped
    assert "p7\t50.00%" in dropped and "orphan\t" in dropped
    out = capsys.readouterr().out
    assert "6 kept, 3 dropped (2 with more than 1% ignore pixels, 1 without an image" in out


def test_max_ignore_flag(tmp_path):
    make_dataset(tmp_path, [0, 2, 50])
    generate_list.main(["--data-dir", str(tmp_path), "--max-ignore", "0.05", "--quiet"])
    kept = sum(
        ((tmp_path / f"{s}_list.txt").read_text().split() for s in ("train", "val", "test")), []
    )
    assert sorted(kept) == ["p0", "p1"]


def test_missing_label_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="label folder"):
        generate_list.main(["--data-dir", str(tmp_path / "nothing"), "--quiet"])


def make_deepglobe(data, train=12, test=2, labels=None):
    """data/x/train/<i>_sat.jpg + data/y/train/<i>_mask.png (urbanisation greys) and
    data/x/test/ images without labels."""
    greys = np.array([0, 178, 225, 105, 149, 29, 255], np.uint8)
    for i in range(train):
        write_image(data / "x" / "train" / f"{i:03d}_sat.jpg", np.full((8, 8, 3), i, np.uint8))
    for i in range(train if labels is None else labels):
        write_png(data / "y" / "train" / f"{i:03d}_mask.png", np.resize(greys, (8, 8)))
    for i in range(test):
        write_image(data / "x" / "test" / f"{i:03d}_sat.jpg", np.zeros((8, 8, 3), np.uint8))


def read_lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_deepglobe_lists_as_lst_transform(tmp_path, capsys):
    data = tmp_path / "data" / "urbanisation"
    make_deepglobe(data, train=3)
    assert generate_list.main(["--layout", "deepglobe", "--data-dir", str(data)]) == 0
    lists = tmp_path / "data" / "list" / "urbanisation"
    assert read_lines(lists / "train.lst") == [
        f"x/train/{i:03d}_sat.jpg y/train/{i:03d}_mask.png" for i in range(3)
    ]
    assert read_lines(lists / "test.lst") == ["x/test/000_sat.jpg", "x/test/001_sat.jpg"]
    assert "train: 3 pairs" in capsys.readouterr().out

    # the lists read as the urbanisation dataset reads them (ROOT data/, images under urbanisation/)
    def dataset(test_set):
        opts = ["DATASET.DATASET", "urbanisation", "DATASET.ROOT", str(tmp_path / "data")]
        opts += ["DATASET.NUM_CLASSES", "7", "DATASET.TEST_SET", f"list/urbanisation/{test_set}"]
        return datasets.build_dataset(load_config(None, opts), "test")

    assert dataset("train.lst")[2][1].unique().tolist() == list(range(7))
    assert not dataset("test.lst").labelled


def test_deepglobe_val_split_is_the_forks(tmp_path):
    """--val-ratio (0.18, seed 2 by default) sends the pairs split_train_test moved to val."""
    data = tmp_path / "urbanisation"
    make_deepglobe(data, train=23)
    out = tmp_path / "lists"
    argv = ["--layout", "deepglobe", "--data-dir", str(data), "--out", str(out), "--val-ratio"]
    assert generate_list.main(argv) == 0
    # split_train_test: random.seed(2), sorted names zipped, shuffled, first int(n * 0.18) to val
    xs = sorted(p.name for p in (data / "x" / "train").iterdir())
    ys = sorted(p.name for p in (data / "y" / "train").iterdir())
    pairs = list(zip(xs, ys, strict=True))
    random.seed(2)
    random.shuffle(pairs)
    fork_val = pairs[: int(len(pairs) * 0.18)]
    val = read_lines(out / "val.lst")
    assert val == sorted(f"x/train/{x} y/train/{y}" for x, y in fork_val) and len(val) == 4
    train = read_lines(out / "train.lst")
    assert len(train) == 19 and not set(train) & set(val)
    assert read_lines(out / "test.lst") == ["x/test/000_sat.jpg", "x/test/001_sat.jpg"]
    assert generate_list.main([*argv, "0.5", "--seed", "7"]) == 0
    assert len(read_lines(out / "val.lst")) == 11


@pytest.mark.parametrize(("ratio", "train", "val"), [("0.01", 36, 0), ("0", 36, 0), ("1", 0, 36)])
def test_deepglobe_empty_split_stops_before_writing(tmp_path, capsys, ratio, train, val):
    data, out = tmp_path / "urbanisation", tmp_path / "lists"
    make_deepglobe(data, train=36)
    argv = ["--layout", "deepglobe", "--data-dir", str(data), "--out", str(out)]
    assert run_tool(generate_list.main, [*argv, "--val-ratio", ratio]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: --val-ratio {ratio} cuts the 36 pairs of {data / 'x' / 'train'} into {train} "
        f"train and {val} val pairs (int(R x 36) to val); each list needs at least one"
    ]
    assert not out.exists()
    assert generate_list.main([*argv, "--val-ratio", "0.03"]) == 0  # 1/36 = 0.028
    assert len(read_lines(out / "val.lst")) == 1


def test_deepglobe_errors(tmp_path):
    data = tmp_path / "urbanisation"
    make_deepglobe(data, train=3, labels=2)
    with pytest.raises(DataError, match=r"x/train holds 3 images but .*y/train holds 2 labels"):
        generate_list.main(["--layout", "deepglobe", "--data-dir", str(data)])
    write_image(data / "x" / "val" / "v.jpg", np.zeros((8, 8, 3), np.uint8))
    write_png(data / "y" / "train" / "002_mask.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match="x/val exists"):
        generate_list.main(["--layout", "deepglobe", "--data-dir", str(data), "--val-ratio"])
    with pytest.raises(SystemExit):
        generate_list.main(["--layout", "deepglobe", "--data-dir", str(data), "--ratio", "1 1 1"])
    with pytest.raises(SystemExit):
        generate_list.main(["--data-dir", str(data), "--val-ratio"])
    with pytest.raises(DataError, match="no split folders"):
        generate_list.main(["--layout", "deepglobe", "--data-dir", str(tmp_path / "empty")])
