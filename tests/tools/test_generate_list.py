"""tools/generate_list.py: split sizes, seeds, the ignore-pixel filter and the list files."""

import generate_list
import numpy as np
import pytest

from datatools.io import write_label
from datatools.splits import split_counts, split_names
from utils.visualize import write_image


def test_split_counts_follow_the_ratio():
    assert split_counts(6, (4, 1, 1)) == [4, 1, 1]
    assert split_counts(600, (4, 1, 1)) == [400, 100, 100]
    assert split_counts(7, (4, 1, 1)) == [5, 1, 1]  # the remainder to the largest fraction
    assert split_counts(10, (1, 0, 1)) == [5, 0, 5]
    with pytest.raises(ValueError, match="ratio"):
        split_counts(10, (1, 1))


def test_split_names_partition_and_seed():
    names = [f"img{i:03d}" for i in range(60)]
    splits = split_names(names, (4, 1, 1), seed=5)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [40, 10, 10]
    assert sorted(sum(splits.values(), [])) == names
    assert split_names(list(reversed(names)), (4, 1, 1), seed=5) == splits
    assert split_names(names, (4, 1, 1), seed=6) != splits


def make_dataset(root, ignore_pixels):
    """10x10 labels; label i has ignore_pixels[i] pixels at 255; 'orphan' has no image."""
    for i, count in enumerate(ignore_pixels):
        label = np.zeros(100, np.uint8)
        label[:count] = 255
        write_label(root / "label" / f"p{i}.png", label.reshape(10, 10))
        write_image(root / "image" / f"p{i}.jpg", np.zeros((10, 10, 3), np.uint8))
    write_label(root / "label" / "orphan.png", np.zeros((10, 10), np.uint8))


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
    with pytest.raises(FileNotFoundError, match="label folder"):
        generate_list.main(["--data-dir", str(tmp_path / "nothing"), "--quiet"])
