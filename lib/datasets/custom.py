"""Any dataset described by a class table (`custom`): no code needed, only files and a YAML.

    DATASET.ROOT/<image> and DATASET.ROOT/<label> as listed in DATASET.TRAIN_SET / TEST_SET
    ("image label" per line, image only for test lists), and DATASET.COLOR_MAP, a class table
    with one `name id R G B` line per class (see utils/colormap.py).

Label images hold either raw ids (grey or palette PNG) or class colours (RGB PNG). Raw id 255
and the ids and colour of the table's `ignore` lines are ignored (TRAIN.IGNORE_LABEL); any other
id or colour that is not in the table is an error naming the file and the values. Predictions
are saved as raw ids.

With DATASET.COMPRESS_MAP (the panorama fork's compressMap.txt, `name R G B id1 id2 ...`) the
classes are its lines instead: each merges the raw ids it lists, the ids of COLOR_MAP it does
not list are ignored, colour labels are read as ids through COLOR_MAP first, and a prediction is
saved as the smallest id of its class.
"""

from pathlib import Path

import numpy as np

from utils.colormap import UNKNOWN, ClassTable
from utils.errors import ConfigError
from utils.image_io import (
    LabelFileError,
    decode_label,
    describe_colour_label,
    is_palette_png,
    one_channel_label,
    read_bytes,
)

from .base_dataset import BaseDataset
from .label_map import IGNORE, INVALID
from .registry import register_dataset

COLOURS_SHOWN = 5


@register_dataset("custom")
class CustomDataset(BaseDataset):
    test_policy = "base"  # the original BaseDataset's (panorama's too); TEST.POLICY overrides
    reads_class_tables = True

    def __init__(self, *args, color_map="colorMap.txt", compress_map="", **kwargs):
        # With COMPRESS_MAP, COLOR_MAP is only needed for colour labels and may be absent.
        has_colours = not compress_map or Path(color_map).is_file()
        self.label_colors = ClassTable.from_file(color_map) if has_colours else None
        # The classes: COMPRESS_MAP's merged ones when it is set, else COLOR_MAP's.
        self.table = (
            ClassTable.from_compress_file(compress_map) if compress_map else self.label_colors
        )
        super().__init__(*args, color_map=color_map, compress_map=compress_map, **kwargs)

    @property
    def class_names(self):
        return self.table.names

    def label_table(self):
        # Checked here, before the base class sizes its tables by NUM_CLASSES.
        if len(self.table) != self.num_classes:
            raise ConfigError(
                f"{self.table.source} lists {len(self.table)} classes but DATASET.NUM_CLASSES is "
                f"{self.num_classes}"
            )
        table = np.full(256, INVALID, np.int64)
        if self.compress_map and self.label_colors is not None:
            table[self.label_colors.ids] = IGNORE  # the ids the merged classes leave out
        for index, group in enumerate(self.table.groups):
            table[list(group)] = index
        table[[*self.table.ignored_ids, 255]] = IGNORE
        return table

    def load_label(self, path, where):
        data = read_bytes(path, "label", where)
        decoded = decode_label(data, path, where)
        if decoded.ndim == 3 and not is_palette_png(data):
            # Without COLOR_MAP, reading it raises the error that names it.
            colors = self.label_colors or ClassTable.from_file(self.color_map)
            classes = colors.lookup_colors(decoded[..., 2::-1])
            unknown = classes == UNKNOWN
            if unknown.any():
                self._unknown_colours(decoded, unknown, path, where)
            return colors.classes_to_ids(classes.astype(np.uint8))
        return one_channel_label(data, decoded, path, where)

    def _unknown_colours(self, decoded, unknown, path, where):
        colours = np.unique(decoded[..., 2::-1][unknown], axis=0)
        shown = ", ".join(str(tuple(int(c) for c in rgb)) for rgb in colours[:COLOURS_SHOWN])
        more = f" ... ({len(colours)} in all)" if len(colours) > COLOURS_SHOWN else ""
        raise LabelFileError(
            f"{where}: label {path} {describe_colour_label(decoded)} with colour(s) {shown}{more} "
            f"that are not in {self.label_colors.source}; expected class colours of the table "
            "(a line 'ignore 255 R G B' makes a colour ignored), or a single-channel PNG of ids"
        )
