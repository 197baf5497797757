"""Any dataset described by a class table (`custom`): no code needed, only files and a YAML.

    DATASET.ROOT/<image> and DATASET.ROOT/<label> as listed in DATASET.TRAIN_SET / TEST_SET
    ("image label" per line, image only for test lists), and DATASET.COLOR_MAP, a class table
    with one `name id R G B` line per class (see utils/colormap.py).

Label images hold either raw ids (grey or palette PNG) or class colours (RGB PNG). Ids and
colours that are not in the table are ignored (TRAIN.IGNORE_LABEL). Predictions are saved as
raw ids.
"""

import cv2
import numpy as np

from utils.colormap import ClassTable

from .base_dataset import IGNORE, BaseDataset, read_file, read_label
from .registry import register_dataset


@register_dataset("custom")
class CustomDataset(BaseDataset):
    @property
    def table(self):
        if not hasattr(self, "_table_cache"):
            self._table_cache = ClassTable.from_file(self.color_map)
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
        table = np.full(256, IGNORE, np.int64)
        table[self.table.ids] = np.arange(len(self.table))
        return table

    def load_label(self, path, where):
        data = read_file(path, "label", where)
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if decoded is not None and decoded.ndim == 3 and not _is_palette(data):
            classes = self.table.colors_to_classes(decoded[..., 2::-1])
            return self.table.classes_to_ids(classes)
        return read_label(path, where)

    def palette(self):
        return self.table.palette()


def _is_palette(data):
    # PNG colour type 3 (byte 25 of the IHDR chunk) is a palette image: its indices are ids.
    return data.size > 25 and bytes(data[1:4]) == b"PNG" and data[25] == 3
