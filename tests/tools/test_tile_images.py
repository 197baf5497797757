"""tools/tile_images.py: the land-use fork's 1024x1024 tiling, with overlap and padded edges."""

import numpy as np
import pytest
from PIL import Image

from helpers.label_data import ramp
from helpers.tools import load_tool
from utils.errors import DataError

tile_images = load_tool("tile_images")


def fork_tiles(array, size):
    """cut_add_frame_v4's loop for a square image: whole tiles only, k counted row by row."""
    tiles, k, i = {}, 1, 0
    while i + size <= array.shape[1]:
        j = 0
        while j + size <= array.shape[0]:
            tiles[k] = array[i : i + size, j : j + size]
            k += 1
            j += size
        i += size
    return tiles


def read(path):
    with Image.open(path) as image:
        return np.asarray(image), image.mode


def test_drop_reproduces_the_forks_tiles_and_names(tmp_path):
    array = ramp(10, 10)
    Image.fromarray(array).save(tmp_path / "scene.png")
    argv = ["--input", str(tmp_path / "scene.png"), "--output", str(tmp_path / "out")]
    assert tile_images.main([*argv, "--size", "4", "--edge", "drop", "--quiet"]) == 0
    expected = fork_tiles(array, 4)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"scene_{k}.png" for k in expected
    )
    for k, tile in expected.items():
        np.testing.assert_array_equal(read(tmp_path / "out" / f"scene_{k}.png")[0], tile)


def test_palette_labels_keep_values_and_palette(tmp_path):
    label = np.array([[0, 1, 2], [3, 4, 5], [6, 0, 1]], np.uint8)
    image = Image.fromarray(label, mode="P")
    image.putpalette([v for k in range(256) for v in (k, 255 - k, 7)])
    folder = tmp_path / "标签" / "train"
    folder.mkdir(parents=True)
    image.save(folder / "地块.png")
    argv = ["--input", str(tmp_path / "标签"), "--output", str(tmp_path / "out"), "--size", "2"]
    assert tile_images.main([*argv, "--pad-value", "255", "--quiet"]) == 0
    tile, mode = read(tmp_path / "out" / "train" / "地块_4.png")  # bottom right, padded
    assert mode == "P" and tile.tolist() == [[1, 255], [255, 255]]
    with Image.open(tmp_path / "out" / "train" / "地块_1.png") as first:
        assert first.getpalette()[:6] == [0, 255, 7, 1, 254, 7]


def test_jpeg_images_and_errors(tmp_path, capsys):
    Image.fromarray(ramp(6, 6)).save(tmp_path / "a.jpg", quality=100)
    out = tmp_path / "out"
    assert tile_images.main(["--input", str(tmp_path), "--output", str(out), "--size", "4"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_1.jpg", "a_2.jpg", "a_3.jpg", "a_4.jpg"]
    assert read(out / "a_1.jpg")[0].shape == (4, 4, 3)
    argv = ["--input", str(tmp_path / "a.jpg"), "--output", str(tmp_path / "o2"), "--size", "8"]
    assert tile_images.main([*argv, "--edge", "drop", "--quiet"]) == 0
    assert "1 image(s) smaller than a tile gave none with --edge drop: a.jpg" in (
        capsys.readouterr().err
    )
    with pytest.raises(DataError, match="nothing does not exist"):
        tile_images.main(["--input", str(tmp_path / "nothing"), "--output", str(out)])
    with pytest.raises(SystemExit):
        tile_images.main(["--input", str(tmp_path), "--output", str(out), "--overlap", "1024"])
    with pytest.raises(SystemExit):
        tile_images.main(["--input", str(tmp_path), "--output", str(out), "--pad-value", "-1"])
    with pytest.raises(DataError, match=r"--pad-value 300 does not fit the 8-bit image .*a\.jpg"):
        tile_images.main(
            ["--input", str(tmp_path), "--output", str(tmp_path / "o3"), "--pad-value", "300"]
        )
    assert not (tmp_path / "o3").exists()
