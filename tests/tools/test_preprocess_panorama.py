"""tools/preprocessPanorama.py: the store pipeline (crops and cached ids) and its errors."""

import numpy as np
import pytest
from PIL import Image

from helpers.label_data import TABLE
from helpers.tools import load_tool
from utils.colormap import ClassTable
from utils.errors import UserError
from utils.image_io import read_label, write_image

preprocessPanorama = load_tool("preprocessPanorama")


def make_store(root, store, name):
    """A 64x128 panorama: left half ground, right quarter shelf, the rest an unknown colour."""
    table = ClassTable.parse(TABLE)
    folder = root / store
    folder.mkdir(parents=True)
    colors = np.zeros((64, 128, 3), np.uint8)
    colors[:, :64] = table.colors[0]
    colors[:, 64:96] = (1, 2, 3)
    colors[:, 96:] = table.colors[2]
    Image.fromarray(colors).save(folder / f"{name}.png")
    write_image(folder / f"{name}.jpg", np.full((64, 128, 3), 128, np.uint8))


def test_tool_writes_crops_and_cached_ids(tmp_path):
    root, store, name = tmp_path / "全景数据", "店铺1", "位置 01"
    make_store(root, store, name)
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    argv = [
        "--root", str(root), "--count", "4", "--fov", "60", "--width", "32", "--height", "24",
        "--seed", "3", "--threads", "2", "--color-map", str(tmp_path / "colorMap.txt"), "--quiet",
    ]  # fmt: skip
    preprocessPanorama.main(argv)
    images = sorted(p.stem for p in (root / "merge" / "image").glob("*.jpg"))
    labels = sorted(p.stem for p in (root / "merge" / "label").glob("*.png"))
    assert images == labels and len(images) == 4
    thetas = sorted(int(n.split("_")[-2]) for n in images)
    assert all(n.startswith(f"{store}_{name}_") and n.endswith("_60") for n in images)
    assert np.diff(thetas).tolist() == [90, 90, 90]
    cached = read_label(root / store / "label" / f"{name}.png")
    assert set(np.unique(cached)) == {0, 10, 255}  # raw ids, unknown colour -> 255
    assert (cached[:, :64] == 0).all() and (cached[:, 64:96] == 255).all()
    for stem in labels:
        assert set(np.unique(read_label(root / "merge" / "label" / f"{stem}.png"))) <= {0, 10, 255}
    # Same seed, same angles (the output folder is not taken for a store).
    preprocessPanorama.main(argv)
    assert len(list((root / "merge" / "image").glob("*.jpg"))) == 4


def test_missing_colour_label_is_named(tmp_path):
    root = tmp_path / "raw"
    make_store(root, "s1", "a")
    (root / "s1" / "a.png").unlink()
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    with pytest.raises(UserError, match=r"a\.png"):
        preprocessPanorama.main(
            ["--root", str(root), "--color-map", str(tmp_path / "colorMap.txt"), "--quiet"]
        )


def test_a_label_of_another_size_than_its_panorama_is_refused(tmp_path):
    root = tmp_path / "raw"
    make_store(root, "s1", "a")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(root / "s1" / "a.png")
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    with pytest.raises(UserError, match=r"label of .*a\.jpg is 10x10 but the panorama is 128x64"):
        preprocessPanorama.main(
            ["--root", str(root), "--color-map", str(tmp_path / "colorMap.txt"), "--quiet"]
        )
    assert not list((root / "merge" / "image").glob("*.jpg"))
