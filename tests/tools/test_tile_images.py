"""tools/tile_images.py: the land-use fork's 1024x1024 tiling, with overlap and padded edges."""

import numpy as np
import pytest
from PIL import Image

from datatools.tiles import cut_tiles, tile_starts
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


def ramp(height, width, channels=3):
    values = np.arange(height * width * channels) % 251
    return values.reshape(height, width, channels).astype(np.uint8).squeeze()


def read(path):
    with Image.open(path) as image:
        return np.asarray(image), image.mode


def test_tile_starts():
    assert tile_starts(10, 4, 4, "drop") == [0, 4]
    assert tile_starts(10, 4, 4, "pad") == [0, 4, 8]
    assert tile_starts(10, 4, 2, "pad") == [0, 2, 4, 6]  # the last one ends at 10 exactly
    assert tile_starts(3, 4, 4, "pad") == [0] and tile_starts(3, 4, 4, "drop") == []


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


def test_padded_edge_tiles_cover_every_pixel():
    array = ramp(7, 10)  # 7 rows, 10 columns: 2 x 3 tiles of 4
    tiles = dict(cut_tiles(Image.fromarray(array), 4, pad_value=9))
    assert sorted(tiles) == [1, 2, 3, 4, 5, 6]
    stitched = np.full((8, 12, 3), 9, np.uint8)
    for k, tile in tiles.items():
        row, column = divmod(k - 1, 3)
        stitched[row * 4 : row * 4 + 4, column * 4 : column * 4 + 4] = np.asarray(tile)
    np.testing.assert_array_equal(stitched[:7, :10], array)
    # the padding of the last tile (rows 7, columns 10-11) holds the pad value
    assert (np.asarray(tiles[6])[3:] == 9).all() and (np.asarray(tiles[6])[:, 2:] == 9).all()


def test_overlap():
    array = ramp(4, 10, 1)
    tiles = dict(cut_tiles(Image.fromarray(array), 4, overlap=2))
    assert sorted(tiles) == [1, 2, 3, 4]
    for k, tile in tiles.items():
        np.testing.assert_array_equal(np.asarray(tile), array[:, 2 * (k - 1) : 2 * (k - 1) + 4])


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
