"""List files -> samples (image path, label path or None, line number, name).

List files hold `image label` per line, or `image` alone in test lists, separated by whitespace
(further columns are ignored); a line holding a tab is split at tabs only, so file names may
hold spaces. They are UTF-8 or GBK text (`utils.text`). The list is at DATASET.ROOT/<list path>;
the paths in it are relative to DATASET.ROOT, except when the first image of the list is not
there but is under DATASET.ROOT/<dataset folder> (the original layout, e.g.
data/cityscapes/leftImg8bit/...): then the whole list is read from that folder.

A dataset with another list layout gives its class another reader (`list_reader`), a subclass
of `PairList` with its own `locate` and `read`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from utils.errors import DataError
from utils.output_names import output_names
from utils.text import read_text

__all__ = ["PairList", "Sample", "check_files", "list_lines"]

MISSING_SHOWN = 5  # missing files named in the error (with the count of all of them)


@dataclass(frozen=True)
class Sample:
    """One line of a list file."""

    image: Path
    label: Path | None
    line: int  # 1-based line number in the list file
    name: str


def list_lines(list_file):
    """(line number, fields, stripped line) of each non-blank line of a list file (UTF-8 or GBK);
    fields are split at tabs when the line holds one, else at whitespace. DataError when there
    is no line."""
    lines = []
    for line_no, line in enumerate(read_text(list_file, "list file").splitlines(), 1):
        if line.strip():
            fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
            lines.append((line_no, [f for f in fields if f], line.strip()))
    if not lines:
        raise DataError(f"list file {list_file} is empty")
    return lines


@dataclass(frozen=True)
class PairList:
    """`image label` lines, paths relative to DATASET.ROOT or to DATASET.ROOT/`folder`.

    `split_lists` names list files by a short name (e.g. {"train": "pascal_ctx/train.lst"});
    `hint` is added to the "list file does not exist" error.
    """

    folder: str = ""
    split_lists: dict = field(default_factory=dict)
    hint: str = ""

    def locate(self, root, list_path):
        """The list file of `list_path` (DATASET.TRAIN_SET / TEST_SET) under `root`."""
        path = Path(root) / list_path
        if not path.is_file() and list_path in self.split_lists:
            path = Path(root) / self.split_lists[list_path]
        if not path.is_file():
            raise DataError(
                f"list file {path} does not exist (DATASET.ROOT {str(root)!r} joined with the "
                f"list {list_path!r}){self.hint}"
            )
        return path

    def read(self, root, list_file, mode):
        """The samples of `list_file`; image-only lines only in "test" mode, all or none."""
        rows = []
        for line_no, items, line in list_lines(list_file):
            if len(items) == 1 and mode != "test":
                raise DataError(
                    f"{list_file}:{line_no}: expected 'image label', got {line!r} "
                    "(image-only lines are for test lists)"
                )
            rows.append((line_no, items[0], items[1] if len(items) > 1 else None))
        first_line, _, first_label = rows[0]
        for line_no, _, label in rows:
            if (label is None) != (first_label is None):
                has = "has no label" if label is None else "has a label"
                raise DataError(f"{list_file}:{line_no}: {has}, unlike line {first_line}")
        base = Path(root)
        if self.folder and not (base / rows[0][1]).exists():
            if (base / self.folder / rows[0][1]).exists():
                base = base / self.folder
        # Predictions are saved as <name>.png: the stem of the label, or of the image in an
        # image-only list, as in the original; the folders and the suffix are added only where
        # another file has that stem.
        named = [label or image for _, image, label in rows]
        names = output_names([base / entry for entry in named], named, flat=True)
        return [
            Sample(base / image, None if label is None else base / label, line_no, name)
            for (line_no, image, label), name in zip(rows, names, strict=True)
        ]


def check_files(list_file, samples):
    """DataError naming the first few listed files that do not exist (with list file and line)
    and how many there are; one stat per file, fast even for 100k files."""
    missing = [
        (sample.line, kind, path)
        for sample in samples
        for kind, path in (("image", sample.image), ("label", sample.label))
        if path is not None and not path.is_file()
    ]
    if missing:
        shown = "; ".join(
            f"line {line} {kind} {path}" for line, kind, path in missing[:MISSING_SHOWN]
        )
        more = ", ..." if len(missing) > MISSING_SHOWN else ""
        raise DataError(
            f"{list_file}: {len(missing)} listed file(s) do not exist: {shown}{more} "
            "(paths are relative to DATASET.ROOT; in a list whose file names hold spaces, "
            "separate the columns with a tab)"
        )
