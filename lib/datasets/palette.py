"""The colours of a config's classes, for pictures of predictions."""

from pathlib import Path

from utils.colormap import ClassTable
from utils.visualize import voc_palette

from .registry import get_dataset_class

__all__ = ["class_table_palette", "palette_for"]

REPO = Path(__file__).resolve().parents[2]


def palette_for(cfg):
    """RGB palette of `cfg`'s classes, as its DATASET.DATASET class gives it (`palette_for`)."""
    return get_dataset_class(cfg.DATASET.DATASET).palette_for(cfg)


def class_table_palette(cfg):
    """RGB palette of `cfg`: the class table (DATASET.COMPRESS_MAP when set, else COLOR_MAP) when
    it has NUM_CLASSES rows, else VOC.

    A relative path is looked up in the current folder, then in the repository root.
    """
    data = cfg.DATASET
    name, load = data.COLOR_MAP, ClassTable.from_file
    if data.COMPRESS_MAP:
        name, load = data.COMPRESS_MAP, ClassTable.from_compress_file
    if name:
        path = Path(name) if Path(name).is_file() else REPO / name
        if path.is_file():
            table = load(path)
            if len(table) == data.NUM_CLASSES:
                return table.palette()
    return voc_palette()
