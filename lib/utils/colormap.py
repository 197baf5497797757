"""Class tables in the `colorMap.txt` format: one class a line, `name id R G B`.

The class index is the line number (0-based, blank lines and `#` comments skipped); `id` is the
raw value of that class in id-labelled images (ids need not be contiguous) and `R G B` its colour
in colour-labelled images and in visualisations. A line named `ignore` is not a class: its ids
(in id labels) and its colour (in colour labels) are ignored, as raw id 255 always is
(`ignore 0 0 0 0`; `ignore 255 224 224 192` for a colour alone). Class ids are 0..254; ids and
colours are unique. `id_lut` and `colors_to_classes` map what is in no line to 255 (the data
tools); `lookup_colors` tells unknown colours apart (the datasets refuse them). The files are
UTF-8 or GBK text.

The panorama fork's `compressMap.txt` merges raw ids into classes, one class a line,
`name R G B id1 id2 ...`: every listed id becomes that class (`ClassTable.from_compress_file`).
A class then has several ids; the smallest stands for it where one id is written (predictions).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.errors import DataError
from utils.text import read_text

IGNORE = 255
IGNORE_NAME = "ignore"  # the name of lines that are not classes
UNKNOWN = -1  # `lookup_colors` value of a colour that is in no line of the table


@dataclass(frozen=True)
class ClassTable:
    names: tuple
    ids: np.ndarray  # (K,) raw id of each class (the smallest of its ids)
    colors: np.ndarray  # (K, 3) uint8 RGB of each class
    groups: tuple  # every raw id of each class: one, or several merged ones (compressMap)
    source: str = "colorMap.txt"
    ignored_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ignored_colors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.uint8))

    def __len__(self):
        return len(self.names)

    @classmethod
    def from_file(cls, path):
        """The classes of a colorMap file (`name id R G B` per line)."""
        return cls._read(path, "color")

    @classmethod
    def from_compress_file(cls, path):
        """The merged classes of a compressMap file (`name R G B id1 id2 ...` per line)."""
        return cls._read(path, "compress")

    @classmethod
    def parse(cls, text, source="colorMap.txt"):
        return cls._parse(text, source, "color")

    @classmethod
    def parse_compress(cls, text, source="compressMap.txt"):
        return cls._parse(text, source, "compress")

    @classmethod
    def _read(cls, path, layout):
        path = Path(path)
        if not path.is_file():
            raise DataError(
                f"class table {path} does not exist (expected lines {LAYOUTS[layout][0]})"
            )
        return cls._parse(read_text(path, "class table"), str(path), layout)

    @classmethod
    def _parse(cls, text, source, layout):
        form, split = LAYOUTS[layout]
        names, groups, colors, owners, seen = [], [], [], {}, {}
        ignored_ids, ignored_colors = [], []
        for line_no, line, fields in _table_lines(text):
            ignored = fields[0] == IGNORE_NAME
            try:
                rgb, raw_ids = split(fields)
                top = IGNORE if ignored else IGNORE - 1
                if not all(0 <= c <= 255 for c in rgb) or not all(0 <= i <= top for i in raw_ids):
                    raise ValueError
            except ValueError:
                raise DataError(
                    f"{source}:{line_no}: expected {form} with colours in 0..255 and ids in "
                    f"0..254 (255 is the ignore value), got {line!r}"
                ) from None
            for raw_id in raw_ids:
                if raw_id in owners and raw_id != IGNORE:
                    raise DataError(
                        f"{source}:{line_no}: id {raw_id} is already in class {owners[raw_id]!r}"
                    )
                owners[raw_id] = fields[0]
            if tuple(rgb) in seen:
                raise DataError(
                    f"{source}:{line_no}: colour {tuple(rgb)} is used twice (also on line "
                    f"{seen[tuple(rgb)]}); every class needs its own colour"
                )
            seen[tuple(rgb)] = line_no
            if ignored:
                ignored_ids += raw_ids
                ignored_colors.append(rgb)
                continue
            names.append(fields[0])
            groups.append(tuple(raw_ids))
            colors.append(rgb)
        if not names:
            raise DataError(f"{source}: no classes (expected lines {form})")
        ids = np.array([min(group) for group in groups], np.int64)
        return cls(
            tuple(names),
            ids,
            np.array(colors, np.uint8),
            tuple(groups),
            source,
            np.array(ignored_ids, np.int64),
            np.array(ignored_colors, np.uint8).reshape(-1, 3),
        )

    def id_lut(self):
        """256-entry table: raw id -> class index (unknown ids -> 255)."""
        lut = np.full(256, IGNORE, dtype=np.uint8)
        for index, group in enumerate(self.groups):
            lut[list(group)] = index
        return lut

    def unknown_ids(self, label):
        """The raw ids of `label` that are in no line of the table (255 and `ignore` lines'
        ids are known), sorted."""
        known = self.id_lut() != IGNORE
        known[self.ignored_ids] = True
        known[IGNORE] = True
        values = np.unique(label)
        return [int(v) for v in values if v > 255 or not known[v]]

    def ids_to_classes(self, label):
        """Raw-id label image (uint8) -> class indices; unknown ids become 255."""
        return self.id_lut()[label]

    def classes_to_ids(self, class_map):
        """Class indices -> raw ids, the smallest id of a merged class (255 stays 255)."""
        lut = np.full(256, IGNORE, dtype=np.uint8)
        lut[: len(self)] = self.ids
        return lut[class_map]

    def lookup_colors(self, label_rgb):
        """RGB label image (H, W, 3) -> int16 class indices, IGNORE for the colours of `ignore`
        lines, UNKNOWN for colours in no line of the table."""
        keys = _pack(np.concatenate([self.colors, self.ignored_colors])[None])[0]
        values = np.concatenate([np.arange(len(self)), np.full(len(self.ignored_colors), IGNORE)])
        packed = _pack(label_rgb)
        order = np.argsort(keys)
        position = np.clip(np.searchsorted(keys[order], packed), 0, len(keys) - 1)
        found = keys[order][position] == packed
        return np.where(found, values[order][position], UNKNOWN).astype(np.int16)

    def colors_to_classes(self, label_rgb):
        """RGB label image (H, W, 3) -> class indices; ignored and unknown colours become 255."""
        classes = self.lookup_colors(label_rgb)
        return np.where(classes == UNKNOWN, IGNORE, classes).astype(np.uint8)

    def palette(self):
        """(256, 3) uint8 RGB palette: class colours first, black for the rest."""
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[: len(self)] = self.colors
        return palette


def _color_map_fields(fields):
    """(R G B, [id]) of a colorMap line `name id R G B`; ValueError if malformed."""
    if len(fields) != 5:
        raise ValueError
    raw_id, *rgb = (int(f) for f in fields[1:])
    return rgb, [raw_id]


def _compress_map_fields(fields):
    """(R G B, [id1, id2, ...]) of a compressMap line `name R G B id1 id2 ...`."""
    if len(fields) < 5:
        raise ValueError
    return [int(f) for f in fields[1:4]], [int(f) for f in fields[4:]]


# layout -> (line format for messages, field parser)
LAYOUTS = {
    "color": ("'name id R G B'", _color_map_fields),
    "compress": ("'name R G B id1 id2 ...'", _compress_map_fields),
}


def _table_lines(text):
    """(line number, line, fields) of each line that is not blank once `#` comments are cut."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            yield line_no, line, line.split()


def _pack(rgb):
    rgb = np.asarray(rgb, dtype=np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
