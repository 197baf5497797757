"""Raw label values -> class indices, and back.

A dataset describes its labels with a label table: for each raw pixel value (usually 256 of
them) the class index, IGNORE (not counted by the loss and the metrics) or INVALID (must not
occur: an error naming the file and the values). `LabelMap` compiles it into lookup tables,
swaps the left/right classes of a mirrored label (`flip_pairs`), and turns class maps back into
raw values for saving predictions.
"""

import cv2
import numpy as np
import torch

from utils.errors import DataError

__all__ = ["IGNORE", "INVALID", "LabelMap", "apply_lut", "identity_table", "reduce_zero_table"]

IGNORE = -1  # label table entry: the raw value is ignored by the loss and the metrics
INVALID = -2  # label table entry: the raw value must not occur


def identity_table(num_classes):
    """Raw value k is class k (k < num_classes); 255 is ignored; anything else is an error."""
    table = np.full(256, INVALID, np.int64)
    table[:num_classes] = np.arange(num_classes)
    table[255] = IGNORE
    return table


def reduce_zero_table(num_classes):
    """Raw 0 ("other") and 255 are ignored; raw k is class k - 1 (k = 1..num_classes)."""
    table = np.full(256, INVALID, np.int64)
    table[1 : num_classes + 1] = np.arange(num_classes)
    table[0] = table[255] = IGNORE
    return table


def apply_lut(lut, array):
    """`lut[array]`; cv2.LUT (several times faster) when both are 8-bit."""
    if array.dtype == np.uint8 and lut.dtype == np.uint8 and len(lut) == 256:
        return cv2.LUT(array, lut)
    return np.take(lut, array)


class LabelMap:
    """The compiled label table of a dataset of `num_classes` classes (named `owner` in errors).

    Mapped labels are uint8 (uint16 for 254+ classes) holding the class index, or
    `ignore_value` (the dtype's largest value) where ignored. `saved_values` (one raw value per
    class) replaces the inverse of the table for saving predictions.
    """

    def __init__(self, table, num_classes, flip_pairs=(), saved_values=None, owner="dataset"):
        table = np.asarray(table, np.int64)
        self.num_classes = num_classes
        self.owner = owner
        self.dtype = np.uint8 if num_classes < 254 else np.uint16
        self.ignore_value = np.iinfo(self.dtype).max
        self._invalid_value = self.ignore_value - 1
        self._lut8 = self._compile(table, 256)
        self._lut16 = self._compile(table, 65536)
        swap = np.arange(self.ignore_value + 1).astype(self.dtype)
        for a, b in flip_pairs:
            swap[a], swap[b] = b, a
        self._swap = swap if flip_pairs else None
        if saved_values is None:
            raw = np.flatnonzero(table >= 0)
            classes, first = np.unique(table[raw], return_index=True)
            saved_values = np.zeros(num_classes, np.int64)
            saved_values[classes] = raw[first]
        inverse = np.asarray(saved_values, np.int64)
        self._inverse = inverse.astype(np.uint8 if inverse.max(initial=0) < 256 else np.uint16)

    def _compile(self, table, size):
        """The label table as a `size`-entry LUT holding the reserved values."""
        lut = np.full(size, self._invalid_value, self.dtype)
        part = table[:size]
        lut[: len(part)] = np.select(
            [part >= 0, part == IGNORE], [part, self.ignore_value], self._invalid_value
        )
        return lut

    def map(self, raw, where="label"):
        """Raw label values -> class indices (`ignore_value` where ignored); DataError naming
        `where` for values that are neither a class nor ignored."""
        label = apply_lut(self._lut8 if raw.dtype == np.uint8 else self._lut16, raw)
        if (label == self._invalid_value).any():
            bad = np.unique(raw[label == self._invalid_value])
            shown = ", ".join(str(v) for v in bad[:10]) + (" ..." if len(bad) > 10 else "")
            hint = ""
            if len(bad) > 10:
                hint = (
                    f"; {len(bad)} different values: a label saved as JPEG or resized with "
                    "interpolation looks like this (write labels as PNG, resize them nearest)"
                )
            raise DataError(
                f"{where} has value(s) {shown} that are neither a class of {self.owner} "
                f"(NUM_CLASSES {self.num_classes}) nor ignored{hint}"
            )
        return label

    def flip(self, label):
        """A mirrored mapped label with its left/right classes swapped."""
        return label if self._swap is None else apply_lut(self._swap, label)

    def to_ids(self, class_map):
        """Class indices -> raw label values (for saving predictions)."""
        return self._inverse[np.asarray(class_map)]

    def to_tensor(self, label, ignore_label):
        """A mapped label as an int64 tensor whose ignored pixels hold `ignore_label`."""
        out = torch.from_numpy(label.astype(np.int64))
        if ignore_label != self.ignore_value:
            out[out == self.ignore_value] = ignore_label
        return out
