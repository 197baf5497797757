"""datatools.tiles: tile positions, padded edge tiles and overlap."""

import numpy as np
from PIL import Image

from datatools.tiles import cut_tiles, tile_starts
from helpers.label_data import ramp


def test_tile_starts():
    assert tile_starts(10, 4, 4, "drop") == [0, 4]
    assert tile_starts(10, 4, 4, "pad") == [0, 4, 8]
    assert tile_starts(10, 4, 2, "pad") == [0, 2, 4, 6]  # the last one ends at 10 exactly
    assert tile_starts(3, 4, 4, "pad") == [0] and tile_starts(3, 4, 4, "drop") == []


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
