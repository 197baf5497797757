"""Perspective crops of store panoramas (`panorama`, panorama fork): the classes of colorMap.txt.

On disk, as tools/preprocessPanorama.py and tools/generate_list.py write it:

    <data>/image/<name>.jpg                 crop
    <data>/label/<name>.png                 raw ids of DATASET.COLOR_MAP (grey PNG)
    <data>/{train,val,test}_list.txt        one base name <name> per line

Id 255 (colours preprocessPanorama did not know) is ignored; any other id that is not in the
class table is an error naming the file. The class index is the table's line number.
DATASET.COMPRESS_MAP merges ids into fewer classes (the fork's compressMap.txt; see
datasets/custom.py). <data> is DATASET.ROOT/panorama (the original layout), DATASET.ROOT itself,
or the list file's folder: the first one holding the first listed image. The list is
DATASET.ROOT/<list>, or <list> as given (relative to the working folder), which is how the
original read `data/panorama/train_list.txt` with ROOT `data/`.

As in the original, a list whose file name contains "test" is read without labels in test
mode, so tools/test.py writes predictions (raw ids, `<name>.png`) for it instead of scores.
"""

from dataclasses import dataclass
from pathlib import Path

from utils.errors import DataError

from .custom import CustomDataset
from .list_reader import PairList, Sample, list_lines
from .registry import register_dataset


@dataclass(frozen=True)
class NameList(PairList):
    """One base name per line: `<data>/image/<name><image_suffix>` and `<data>/label/<name>.png`,
    <data> the first of DATASET.ROOT/`folder`, DATASET.ROOT and the list's folder that holds the
    first image."""

    image_suffix: str = ".jpg"

    def locate(self, root, list_path):
        under_root = Path(root) / list_path
        for path in (under_root, Path(list_path)):
            if path.is_file():
                return path
        raise DataError(
            f"list file {list_path!r} is neither under DATASET.ROOT ({under_root}) nor at "
            f"{Path(list_path).absolute()}"
        )

    def read(self, root, list_file, mode):
        rows = []
        for line_no, items, line in list_lines(list_file):
            if len(items) > 1:
                raise DataError(
                    f"{list_file}:{line_no}: expected one base name per line (image/<name>.jpg, "
                    f"label/<name>.png), got {line!r}"
                )
            rows.append((line_no, items[0]))
        data = self._data_dir(root, list_file, rows[0][1])
        labelled = not (mode == "test" and "test" in list_file.name)
        return [
            Sample(
                data / "image" / f"{name}{self.image_suffix}",
                data / "label" / f"{name}.png" if labelled else None,
                line_no,
                name,
            )
            for line_no, name in rows
        ]

    def _data_dir(self, root, list_file, first_name):
        candidates = [Path(root) / self.folder, Path(root), list_file.parent]
        for folder in candidates:
            if (folder / "image" / f"{first_name}{self.image_suffix}").is_file():
                return folder
        looked = ", ".join(str(c / "image") for c in candidates)
        raise DataError(
            f"{list_file}:1: image {first_name}{self.image_suffix} is in none of {looked}"
        )


@register_dataset("panorama")
class Panorama(CustomDataset):
    list_reader = NameList("panorama")
