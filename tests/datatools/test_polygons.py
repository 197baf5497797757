"""datatools.polygons: polygons land on the right pixels (labelme, Cityscapes)."""

import numpy as np
import pytest

from datatools.polygons import cityscapes_label, labelme_label
from helpers.label_data import SQUARE, TABLE, box, labelme
from utils.colormap import ClassTable


def test_labelme_polygon_rectangle_and_order():
    table = ClassTable.parse(TABLE)
    data = labelme(
        [
            {"label": "wall", "points": SQUARE, "shape_type": "polygon"},
            {"label": "layered_shelf", "points": [[4, 2], [6, 4]], "shape_type": "rectangle"},
            {"label": "ground", "points": [[0, 0], [7, 5]], "shape_type": "line"},
        ]
    )
    label, skipped = labelme_label(data, table)
    expected = box(6, 8, (1, 3), (2, 5), 2, 255)
    expected[2:5, 4:7] = 10  # later shapes on top; raw id of layered_shelf
    np.testing.assert_array_equal(label, expected)
    assert skipped == 1
    colors, _ = labelme_label(data, table, encoding="color")
    np.testing.assert_array_equal(colors[1, 2], (200, 200, 255))
    np.testing.assert_array_equal(colors[0, 0], (0, 0, 0))  # 255: no class, black
    wall_id = table.ids[table.names.index("wall")]
    colors, _ = labelme_label(data, table, encoding="color", background=int(wall_id))
    np.testing.assert_array_equal(colors[0, 0], table.colors[table.names.index("wall")])


def test_labelme_unknown_label_is_named():
    data = labelme([{"label": "sofa", "points": SQUARE}])
    with pytest.raises(ValueError, match="shape 0 .*'sofa' is not a class of"):
        labelme_label(data, ClassTable.parse(TABLE), source="a.json")


def test_cityscapes_label_ids():
    data = {
        "imgHeight": 6,
        "imgWidth": 8,
        "objects": [
            {"label": "road", "polygon": [[0, 3], [7, 3], [7, 5], [0, 5]]},
            {"label": "persongroup", "polygon": SQUARE},
            {"label": "license plate", "polygon": [[0, 0], [7, 0], [7, 5], [0, 5]]},
            {"label": "car", "polygon": [[0, 0], [1, 0], [1, 1]], "deleted": 1},
        ],
    }
    expected = box(6, 8, (3, 5), (0, 7), 7, 0)  # road on unlabeled
    expected[1:4, 2:6] = 24  # 'persongroup' -> person; plate (id -1) and deleted left out
    np.testing.assert_array_equal(cityscapes_label(data), expected)
    colors = cityscapes_label(data, encoding="color")
    np.testing.assert_array_equal(colors[5, 0], (128, 64, 128))
    data["objects"].append({"label": "unicorn", "polygon": SQUARE})
    with pytest.raises(ValueError, match="object 4: label 'unicorn'"):
        cityscapes_label(data)
