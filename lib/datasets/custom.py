"""Any dataset described by a class table (`custom`): no code needed, only files and a YAML.

    DATASET.ROOT/<image> and DATASET.ROOT/<label> as listed in DATASET.TRAIN_SET / TEST_SET
    ("image label" per line, image only for test lists), and DATASET.COLOR_MAP, a class table
    with one `name id R G B` line per class (see utils/colormap.py).

Label images hold either raw ids (grey or palette PNG) or class colours (RGB PNG). Ids and
colours that are not in the table are ignored (TRAIN.IGNORE_LABEL). Predictions are saved as
raw ids.

With DATASET.COMPRESS_MAP (the panorama fork's compressMap.txt, `name R G B id1 id2 ...`) the
classes are its lines instead: each merges the raw ids it lists, ids it does not list are
ignored, colour labels are read as ids through COLOR_MAP first, and a prediction is saved as the
smallest id of its class.
"""

import cv2
import numpy as np

from utils import colormap
from utils.colormap import ClassTable

from .base_dataset import IGNORE, BaseDataset, read_file, read_label
from .registry import register_dataset


@register_dataset("custom")
class CustomDataset(BaseDataset):
    reads_class_tables = True

    @property
    def label_colors(self):
        """COLOR_MAP: the raw id of each colour in colour labels."""
        if not hasattr(self, "_colors_cache"):
            self._colors_cache = ClassTable.from_file(self.color_map)
        return self._colors_cache

    @property
    def table(self):
        """The classes: COMPRESS_MAP's merged ones when it is set, else COLOR_MAP's."""
        if not hasattr(self, "_table_cache"):
            merged = self.compress_map and ClassTable.from_compress_file(self.compress_map)
            self._table_cache = merged or self.label_colors
        return self._table_cache

    @property
    def class_names(self):
        return self.table.names

    def label_table(self):
        # Checked here, before the base class sizes its tables by NUM_CLASSES.
        if len(self.table) != self.num_classes:
            raise ValueError(
                f"{self.table.source} lists {len(self.table)} classes but DATASET.NUM_CLASSES is "
                f"{self.num_classes}"
            )
        lut = self.table.id_lut().astype(np.int64)
        return np.where(lut == colormap.IGNORE, IGNORE, lut)

    def load_label(self, path, where):
        data = read_file(path, "label", where)
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if decoded is not None and decoded.ndim == 3 and not _is_palette(data):
            colors = self.label_colors
            return colors.classes_to_ids(colors.colors_to_classes(decoded[..., 2::-1]))
        return read_label(path, where)

    def palette(self):
        return self.table.palette()


def _is_palette(data):
    # PNG colour type 3 (byte 25 of the IHDR chunk) is a palette image: its indices are ids.
    return data.size > 25 and bytes(data[1:4]) == b"PNG" and data[25] == 3
