"""Class tables: colorMap.txt (`name id R G B`) and the panorama fork's compressMap files
(`name R G B id1 id2 ...`), whose classes merge several raw ids."""

import numpy as np
import pytest
from conftest import REPO

from utils.colormap import ClassTable

COLOR_MAP = ClassTable.from_file(REPO / "colorMap.txt")


def fork_compress_label(label, text):
    """The fork's compress_label: a dict raw id -> line number, then in-place replacements of
    each id that differs from its line number, in file order (ids it does not list stay)."""
    mapping = {}
    for index, line in enumerate(text.splitlines()):
        for raw_id in line.split(" ")[4:]:
            mapping[int(raw_id)] = index
    label = label.copy()
    for key, value in mapping.items():
        if key != value:
            label[label == key] = value
    return label


@pytest.mark.parametrize(
    ("name", "groups"),
    [
        # The fork's ps branch compressMap_c5.txt (its pytorch-v1.1 compressMap.txt).
        (
            "compressMap_c5.txt",
            {
                "ground": (0,),
                "ceiling": (1, 20),
                "structure": (2, 3, 4, 5, 6, 7, 8),
                "shelf": (10, 11, 13, 14),
                "other": (15, 30, 40),
            },
        ),
        # compressMap_c15.txt: colorMap.txt's classes with escalator + elevator and
        # other_objects + human_or_moving_objects merged.
        (
            "compressMap_c15.txt",
            {
                **{
                    name: (int(raw_id),)
                    for name, raw_id in zip(COLOR_MAP.names, COLOR_MAP.ids, strict=True)
                    if name not in ("elevator", "human_or_moving_objects")
                },
                "escalator": (7, 8),
                "other_objects": (30, 40),
            },
        ),
    ],
)
def test_the_forks_maps_merge_as_the_fork_did(name, groups):
    path = REPO / name
    table = ClassTable.from_compress_file(path)
    assert list(zip(table.names, table.groups, strict=True)) == list(groups.items())
    # every colorMap id lands in exactly one class
    assert sorted(i for g in table.groups for i in g) == sorted(COLOR_MAP.ids.tolist())
    # the fork's own algorithm on a label of every colorMap id and 255 (unknown colour)
    rng = np.random.default_rng(0)
    label = rng.choice(np.append(COLOR_MAP.ids, 255).astype(np.uint8), (40, 60))
    expected = fork_compress_label(label, path.read_text())
    np.testing.assert_array_equal(table.ids_to_classes(label), expected)
    # a class index goes back to an id of its class; colours are the merged classes'
    classes = np.arange(len(table))
    np.testing.assert_array_equal(table.ids_to_classes(table.classes_to_ids(classes)), classes)
    assert table.palette()[: len(table)].tolist() == [
        [int(v) for v in line.split()[1:4]] for line in path.read_text().splitlines()
    ]


def test_ids_the_map_does_not_list_are_ignored():
    table = ClassTable.parse_compress("a 1 2 3 5 9\nb 4 5 6 7\n")
    assert table.ids.tolist() == [5, 7]
    label = np.array([[5, 9, 7, 0, 255]], np.uint8)
    assert table.ids_to_classes(label).tolist() == [[0, 0, 1, 255, 255]]
    # the smallest id stands for a merged class
    assert ClassTable.parse_compress("a 1 2 3 9 5\n").classes_to_ids(np.array([0])).tolist() == [5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a 1 2 3\n", r"compressMap.txt:1: expected 'name R G B id1 id2 ...'"),
        ("a 1 2 3 4\nb 1 2 300 5\n", r"compressMap.txt:2: expected"),
        ("a 1 2 3 4\nb 1 2 3 255\n", r"compressMap.txt:2: expected .*ids in 0..254"),
        ("a 1 2 3 4 5\nb 1 2 3 6 5\n", r"compressMap.txt:2: id 5 is already in class 'a'"),
        ("# nothing\n", r"compressMap.txt: no classes"),
    ],
)
def test_malformed_compress_maps_name_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        ClassTable.parse_compress(text)


def test_missing_compress_map_names_the_format(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt does not exist .*name R G B id1"):
        ClassTable.from_compress_file(tmp_path / "nope.txt")
