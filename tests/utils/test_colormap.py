"""Class tables: colorMap.txt (`name id R G B`) and the panorama fork's compressMap files
(`name R G B id1 id2 ...`), whose classes merge several raw ids; `ignore` lines, duplicates,
GBK names."""

import numpy as np
import pytest

from helpers.paths import REPO
from utils.colormap import IGNORE, UNKNOWN, ClassTable
from utils.errors import DataError

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
    with pytest.raises(DataError, match=message):
        ClassTable.parse_compress(text)


def test_missing_compress_map_names_the_format(tmp_path):
    with pytest.raises(DataError, match="nope.txt does not exist .*name R G B id1"):
        ClassTable.from_compress_file(tmp_path / "nope.txt")


TABLE = "ground 0 0 100 100\nwall 2 200 200 255\n# comment\nignore 7 0 0 0\nshelf 10 100 50 0\n"


def test_classes_and_the_ignore_lines():
    table = ClassTable.parse(TABLE + "ignore 255 9 9 9\n")
    assert table.names == ("ground", "wall", "shelf") and table.ids.tolist() == [0, 2, 10]
    assert table.ignored_ids.tolist() == [7, 255]
    rgb = np.array([[[0, 100, 100], [0, 0, 0], [100, 50, 0], [9, 9, 9], [1, 1, 1]]], np.uint8)
    assert table.lookup_colors(rgb).tolist() == [[0, IGNORE, 2, IGNORE, UNKNOWN]]
    assert table.colors_to_classes(rgb).tolist() == [[0, 255, 2, 255, 255]]
    assert table.palette()[:3].tolist() == [[0, 100, 100], [200, 200, 255], [100, 50, 0]]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a 0 1 2 3\nb 0 4 5 6\n", r"colorMap\.txt:2: id 0 is already in class 'a'"),
        ("a 0 1 2 3\nignore 0 4 5 6\n", r"colorMap\.txt:2: id 0 is already in class 'a'"),
        (
            "a 0 1 2 3\nb 1 1 2 3\n",
            r"colorMap\.txt:2: colour \(1, 2, 3\) is used twice \(also on li",
        ),
        ("a 0 1 2 3\nignore 255 1 2 3\n", r"colorMap\.txt:2: colour \(1, 2, 3\) is used twice"),
        ("a 0 1 2\n", r"colorMap\.txt:1: expected 'name id R G B'"),
        (
            "a 255 1 2 3\n",
            r"colorMap\.txt:1: expected 'name id R G B' .*ids in 0\.\.254 \(255 is the ignore",
        ),
        ("# nothing\nignore 3 0 0 0\n", r"colorMap\.txt: no classes"),
    ],
)
def test_errors_name_the_line_and_the_value(text, message):
    with pytest.raises(DataError, match=message):
        ClassTable.parse(text)


def test_a_gbk_table_is_read(tmp_path):
    path = tmp_path / "colorMap.txt"
    path.write_bytes("地面 0 0 100 100\n墙 2 200 200 255\n".encode("gbk"))
    assert ClassTable.from_file(path).names == ("地面", "墙")
