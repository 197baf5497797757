"""The base of every dataset: list files, image and label reading, label mapping, augmentation.

A dataset item is `(image, label, size, name)`:

- `image`: uint8 tensor (3, H, W), RGB, *not* normalised. Batch first, then turn the batch into
  the network input with `normalize(batch)` on the device (GPU or CPU): moving uint8 is 4x less
  data than float, and the normalisation of a whole batch is one fast tensor operation.
- `label`: int64 tensor (H, W) of class indices, `ignore_label` where there is no class; an
  empty (0, 0) tensor for an image-only list.
- `size`: (height, width) of the image as read from disk.
- `name`: the image file name without extension (names saved predictions).

List files hold `image label` per line, or `image` alone in test lists, separated by whitespace
(further columns are ignored); a line holding a tab is split at tabs only, so file names may
hold spaces. They are UTF-8 or GBK
text (`utils.text`). The list is at DATASET.ROOT/<list path>; the paths in it are relative
to DATASET.ROOT, except when the first image of the list is not there but is under
DATASET.ROOT/<dataset folder> (the original layout, e.g. data/cityscapes/leftImg8bit/...): then the
whole list is read from that folder. Every listed file is checked for existence when the dataset
is built, so a missing file stops a run before it trains.

Labels are mapped with a lookup table indexed by the raw pixel value: a class index, ignored, or
not allowed (an error naming the file and the values). A JPEG label, a colour image where raw
values are expected and swapped list columns are errors that say what the file looks like.

The training augmentation of a sample is drawn from a generator seeded with (seed, epoch,
sample index), never from a process's global generator, so every process and DataLoader worker,
and a resumed run, draws the same augmentation for the same sample.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from utils.errors import ConfigError, DataError
from utils.text import read_text

from .transforms import scaled_size

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB
IMAGENET_STD = (0.229, 0.224, 0.225)

IGNORE = -1  # label table entry: the raw value is ignored by the loss and the metrics
INVALID = -2  # label table entry: the raw value must not occur

MODES = ("train", "val", "test")

# Nudges exact nearest-neighbour ties past warpAffine's fixed-point rounding, so they fall on the
# same source pixel as cv2.resize's floor(x * scale).
_NEAREST_EPS = 1e-3

JPEG_SIGNATURE = b"\xff\xd8\xff"
MISSING_SHOWN = 5  # missing files named in the error (with the count of all of them)


def normalize(images, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """uint8 RGB images (..., 3, H, W) -> float32 `(x / 255 - mean) / std`, on their device."""
    scale = torch.tensor(std, dtype=torch.float32, device=images.device).view(3, 1, 1) * 255
    shift = torch.tensor(mean, dtype=torch.float32, device=images.device).view(3, 1, 1) * 255
    return images.to(torch.float32, copy=True).sub_(shift).div_(scale)


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


def read_file(path, what, where):
    """The bytes of `path` as a uint8 array (works with non-ASCII paths, unlike cv2.imread)."""
    if not path.is_file():
        raise DataError(f"{where}: {what} {path} does not exist")
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        raise DataError(f"{where}: {what} {path} is empty")
    return data


def read_image(path, where):
    """A BGR uint8 image (H, W, 3); `where` ("list:line") prefixes the error messages."""
    image = cv2.imdecode(read_file(path, "image", where), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{where}: image {path} cannot be decoded as an image")
    return image


class LabelFileError(DataError):
    """A label file that is not what the dataset reads: a JPEG, a colour image where raw values
    are expected, colours that are not in the class table."""


def check_not_jpeg(data, path, where):
    """JPEG compression changes pixel values: a JPEG label is an error, whatever its name."""
    if data[:3].tobytes() == JPEG_SIGNATURE:
        raise LabelFileError(
            f"{where}: label {path} is a JPEG file: JPEG compression changes the label values; "
            "expected a PNG (lossless) of the raw label values"
        )


def describe_colour_label(label):
    """What a 3- or 4-channel label image looks like, for error messages."""
    channels = label[..., :3]
    if (channels == channels[..., :1]).all():
        return "is an RGB image whose three channels are equal (grey values saved as colour)"
    return f"is a colour image ({label.shape[2]} channels)"


def read_label(path, where):
    """The raw values of a single-channel (grey or palette) label image, uint8 or uint16 (H, W)."""
    data = read_file(path, "label", where)
    check_not_jpeg(data, path, where)
    label = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise DataError(f"{where}: label {path} cannot be decoded as an image")
    if label.ndim == 3:
        # OpenCV expands palette PNGs to colour; the palette indices are the labels.
        from PIL import Image

        with Image.open(io.BytesIO(data.tobytes())) as pil:
            if pil.mode != "P":
                raise LabelFileError(
                    f"{where}: label {path} {describe_colour_label(label)}; expected one channel "
                    "(a grey or palette PNG holding the raw label values)"
                )
            label = np.asarray(pil)
    if label.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{where}: label {path} is {label.dtype}; expected 8 or 16 bits")
    return label


def looks_like_label(path):
    """Whether the image file `path` has one channel (grey or palette), as labels have."""
    data = np.fromfile(path, np.uint8)
    if data[:3].tobytes() == JPEG_SIGNATURE:
        return False
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return image is not None and (image.ndim == 2 or is_palette_png(data))


def is_palette_png(data):
    """Whether the file bytes `data` are a palette PNG (whose indices are the label values)."""
    # PNG colour type 3 (byte 25 of the IHDR chunk) is a palette image.
    return data.size > 25 and data[1:4].tobytes() == b"PNG" and data[25] == 3


def augmentation_rng(seed, epoch, index):
    """The generator of one training sample's augmentation: a function of (seed, epoch,
    sample index) alone, the same in any process, worker or resumed run."""
    return np.random.default_rng((int(seed), int(epoch), int(index)))


@dataclass(frozen=True)
class Sample:
    """One line of a list file."""

    image: Path
    label: Path | None
    line: int  # 1-based line number in the list file
    name: str


class BaseDataset(Dataset):
    """A list of images (and labels) with the original HRNet training augmentation.

    `mode`:
      - "train": random rescale (long side `base_size * (0.5 + randint(0, scale_factor) / 10)`),
        padding to the crop (black / ignore) and a random `crop_size` (h, w) crop, random
        horizontal flip, optional random brightness, label down-sampled by `downsample_rate`.
      - "val": the whole image, no augmentation; with `center_crop`, the long side resized to
        `base_size` and the centre `crop_size` cut.
      - "test": as "val"; the list may hold images only.

    Subclasses set `folder`, `class_names`, `num_classes_choices` and override `label_table()`.
    """

    folder = ""  # sub-folder of DATASET.ROOT in the original layout
    num_classes_choices = ()  # allowed DATASET.NUM_CLASSES (empty: any)
    flip_pairs = ()  # class pairs that swap under a horizontal flip
    squash_to_crop = False  # resize to the crop size (aspect not kept) before rescaling
    default_class_weights = None  # per-class loss weights used when DATASET.CLASS_WEIGHTS is empty
    split_lists = {}  # list names standing for a list file, e.g. {"train": "pascal_ctx/train.lst"}
    list_hint = ""  # added to the "list file does not exist" error
    reads_class_tables = False  # classes from DATASET.COLOR_MAP / COMPRESS_MAP (custom, panorama)

    def __init__(
        self,
        root,
        list_path,
        num_classes,
        mode="train",
        crop_size=(512, 1024),
        base_size=2048,
        multi_scale=True,
        flip=True,
        scale_factor=16,
        downsample_rate=1,
        ignore_label=-1,
        random_brightness=False,
        brightness_shift=10,
        center_crop=False,
        num_samples=0,
        class_weights=None,
        color_map="colorMap.txt",
        compress_map="",
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.color_map = color_map  # class table file, for datasets described by one
        self.compress_map = compress_map  # class merging table, for the same datasets
        if compress_map and not self.reads_class_tables:
            raise ConfigError(
                f"DATASET.COMPRESS_MAP ({compress_map}) merges the classes of the custom and "
                f"panorama datasets; {type(self).__name__} has its own classes"
            )
        self.num_classes = int(num_classes)
        if self.num_classes_choices and self.num_classes not in self.num_classes_choices:
            choices = " or ".join(str(n) for n in self.num_classes_choices)
            raise ConfigError(
                f"{type(self).__name__} has {choices} classes; DATASET.NUM_CLASSES is {num_classes}"
            )
        if 0 <= ignore_label < self.num_classes:
            raise ConfigError(
                f"TRAIN.IGNORE_LABEL {ignore_label} is a class index (0..{self.num_classes - 1}); "
                "use 255 or -1"
            )
        self.mode = mode
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.base_size = int(base_size)
        self.multi_scale = bool(multi_scale)
        self.flip = bool(flip)
        self.scale_factor = int(scale_factor)
        self.downsample_rate = int(downsample_rate)
        self.ignore_label = int(ignore_label)
        self.random_brightness = bool(random_brightness)
        self.brightness_shift = int(brightness_shift)
        self.center_crop = bool(center_crop)
        weights = class_weights if class_weights else self.default_class_weights
        if weights is not None and len(weights) != self.num_classes:
            raise ConfigError(
                f"DATASET.CLASS_WEIGHTS has {len(weights)} values for {self.num_classes} classes"
            )
        self.class_weights = None if weights is None else [float(w) for w in weights]

        self.list_file = self._list_file(root, list_path)
        self.samples = self._read_list(root, self.list_file)
        if num_samples:
            self.samples = self.samples[: int(num_samples)]
        self.labelled = self.samples[0].label is not None
        self._build_tables()
        self.check_files()

    # -- list ------------------------------------------------------------------------------

    def _list_file(self, root, list_path):
        path = Path(root) / list_path
        if not path.is_file() and list_path in self.split_lists:
            path = Path(root) / self.split_lists[list_path]
        if not path.is_file():
            raise DataError(
                f"list file {path} does not exist (DATASET.ROOT {str(root)!r} joined with the "
                f"list {list_path!r}){self.list_hint}"
            )
        return path

    def _read_list(self, root, list_file):
        rows = []
        for line_no, items, line in list_lines(list_file):
            if len(items) == 1 and self.mode != "test":
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
        return [
            Sample(base / image, None if label is None else base / label, line_no, Path(image).stem)
            for line_no, image, label in rows
        ]

    def check_files(self):
        """DataError naming the first few listed files that do not exist (with list file and
        line) and how many there are; one stat per file, fast even for 100k files."""
        missing = [
            (sample.line, kind, path)
            for sample in self.samples
            for kind, path in (("image", sample.image), ("label", sample.label))
            if path is not None and not path.is_file()
        ]
        if missing:
            shown = "; ".join(
                f"line {line} {kind} {path}" for line, kind, path in missing[:MISSING_SHOWN]
            )
            more = ", ..." if len(missing) > MISSING_SHOWN else ""
            raise DataError(
                f"{self.list_file}: {len(missing)} listed file(s) do not exist: {shown}{more} "
                "(paths are relative to DATASET.ROOT; in a list whose file names hold spaces, "
                "separate the columns with a tab)"
            )

    def __len__(self):
        return len(self.samples)

    @property
    def class_names(self):
        """One name per class; the indices as text unless the dataset names its classes."""
        return tuple(str(k) for k in range(self.num_classes))

    # -- labels ----------------------------------------------------------------------------

    def label_table(self):
        """Raw label value -> class index, IGNORE or INVALID (an int array, usually 256 long)."""
        return identity_table(self.num_classes)

    def _build_tables(self):
        table = np.asarray(self.label_table(), np.int64)
        # Mapped labels are uint8 (uint16 for 254+ classes) with two reserved top values.
        dtype = np.uint8 if self.num_classes < 254 else np.uint16
        self._ignore_value = np.iinfo(dtype).max
        self._invalid_value = self._ignore_value - 1
        self._table = table
        self._lut8 = self._compile(table, 256, dtype)
        self._lut16 = None  # built on the first 16-bit label
        self._dtype = dtype
        swap = np.arange(self._ignore_value + 1).astype(dtype)
        for a, b in self.flip_pairs:
            swap[a], swap[b] = b, a
        self._swap_lut = swap if self.flip_pairs else None
        raw = np.flatnonzero(table >= 0)
        classes, first = np.unique(table[raw], return_index=True)
        inverse = np.zeros(self.num_classes, np.int64)
        inverse[classes] = raw[first]
        self._inverse = inverse.astype(np.uint8 if inverse.max(initial=0) < 256 else np.uint16)

    def _compile(self, table, size, dtype):
        """The label table as a `size`-entry LUT of `dtype` holding the reserved values."""
        lut = np.full(size, self._invalid_value, dtype)
        part = table[:size]
        lut[: len(part)] = np.select(
            [part >= 0, part == IGNORE], [part, self._ignore_value], self._invalid_value
        )
        return lut

    def map_label(self, raw, where="label"):
        """Raw label values -> class indices (uint8/uint16, `_ignore_value` where ignored)."""
        if raw.dtype == np.uint8:
            label = apply_lut(self._lut8, raw)
        else:
            if self._lut16 is None:
                self._lut16 = self._compile(self._table, 65536, self._dtype)
            label = apply_lut(self._lut16, raw)
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
                f"{where} has value(s) {shown} that are neither a class of {type(self).__name__} "
                f"(NUM_CLASSES {self.num_classes}) nor ignored{hint}"
            )
        return label

    def load_label(self, path, where):
        """The raw label values of `path` (H, W); datasets with colour labels override this."""
        return read_label(path, where)

    def label_to_ids(self, class_map):
        """Class indices -> raw label values (the inverse of the label table; for saving)."""
        return self._inverse[np.asarray(class_map)]

    def save_prediction(self, class_map, name, save_dir):
        """Write `save_dir/<name>.png`: the prediction as raw label values (grey PNG)."""
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
        path = save_dir / f"{name}.png"
        ok, data = cv2.imencode(".png", self.label_to_ids(class_map))
        if not ok:
            raise DataError(f"cannot encode the prediction for {path}")
        data.tofile(path)
        return path

    # -- augmentation ----------------------------------------------------------------------

    def random_params(self, height, width, rng):
        """Draw one training augmentation for an image of (height, width) from `rng` (a NumPy
        Generator): a dict of the resized `size` (h, w), the crop `offset` (y, x), `flip` and
        the brightness `shift`."""
        src_h, src_w = self.crop_size if self.squash_to_crop else (height, width)
        scale = 0.5 + rng.integers(0, self.scale_factor + 1) / 10 if self.multi_scale else 1.0
        new_h, new_w = scaled_size(src_h, src_w, int(self.base_size * scale + 0.5))
        crop_h, crop_w = self.crop_size
        x0 = int(rng.integers(0, max(new_w - crop_w, 0) + 1))
        y0 = int(rng.integers(0, max(new_h - crop_h, 0) + 1))
        flip = self.flip and rng.random() < 0.5
        shift = 0
        if self.random_brightness and rng.random() < 0.5:
            shift = int(rng.integers(-self.brightness_shift, self.brightness_shift + 1))
        return {"size": (new_h, new_w), "offset": (y0, x0), "flip": flip, "shift": shift}

    def scale_crop(self, image, label, size, offset, flip):
        """Resize to `size` (h, w) (image bilinear, label nearest), pad the bottom/right up to
        the crop (black / ignore), cut `crop_size` at `offset` (y, x), mirror if `flip`.

        Equivalent to cv2.resize + pad + slice, but one warpAffine per array computes only the
        crop's pixels: at 2x scale that is 8x less work than resizing the whole image.
        """
        height, width = label.shape
        new_h, new_w = size
        y0, x0 = offset
        crop_h, crop_w = self.crop_size
        ax, ay = width / new_w, height / new_h
        # Output column x shows column X = x0 + x of the resized image, or x0 + crop_w - 1 - x.
        sx, tx = (-ax, x0 + crop_w - 1) if flip else (ax, x0)
        # cv2.resize samples bilinear at (X + 0.5) * a - 0.5 and nearest at floor(X * a).
        linear = np.array([[sx, 0, ax * (tx + 0.5) - 0.5], [0, ay, ay * (y0 + 0.5) - 0.5]])
        nearest = np.array(
            [[sx, 0, ax * tx - 0.5 + _NEAREST_EPS], [0, ay, ay * y0 - 0.5 + _NEAREST_EPS]]
        )
        flags = cv2.WARP_INVERSE_MAP
        border = cv2.BORDER_REPLICATE
        image = cv2.warpAffine(
            image, linear, (crop_w, crop_h), flags=flags | cv2.INTER_LINEAR, borderMode=border
        )
        label = cv2.warpAffine(
            label, nearest, (crop_w, crop_h), flags=flags | cv2.INTER_NEAREST, borderMode=border
        )
        # Replicated borders match cv2.resize at the image edges; beyond them is padding.
        bottom = max(new_h - y0, 0)
        image[bottom:] = 0
        label[bottom:] = self._ignore_value
        if flip:
            pad = slice(0, max(x0 + crop_w - new_w, 0))
        else:
            pad = slice(max(new_w - x0, 0), None)
        image[:, pad] = 0
        label[:, pad] = self._ignore_value
        return image, label

    def augment(self, image, label, params):
        """Apply `random_params(...)` to a BGR image and a mapped label."""
        image, label = self.scale_crop(
            image, label, params["size"], params["offset"], params["flip"]
        )
        if params["flip"] and self._swap_lut is not None:
            label = apply_lut(self._swap_lut, label)
        if params["shift"]:
            image = cv2.add(image, (params["shift"],) * 3 + (0,))
        if self.downsample_rate != 1:
            factor = 1.0 / self.downsample_rate
            label = cv2.resize(label, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
        return image, label

    def center_crop_sample(self, image, label):
        """Long side resized to `base_size`, then the centre `crop_size` (padded if smaller)."""
        new_h, new_w = scaled_size(*label.shape, self.base_size)
        crop_h, crop_w = self.crop_size
        y0 = int(round((max(new_h, crop_h) - crop_h) / 2))
        x0 = int(round((max(new_w, crop_w) - crop_w) / 2))
        return self.scale_crop(image, label, (new_h, new_w), (y0, x0), False)

    # -- items -----------------------------------------------------------------------------

    def _label_tensor(self, label):
        out = torch.from_numpy(label.astype(np.int64))
        if self.ignore_label != self._ignore_value:
            out[out == self._ignore_value] = self.ignore_label
        return out

    def __getitem__(self, key):
        """(image uint8 (3, H, W) RGB, label int64 (H, W), size (h, w), name); see the module.

        `key` is a sample index, or (index, seed, epoch) as `core.data.TrainSampler` yields
        them: the training augmentation is drawn from `augmentation_rng(seed, epoch, index)`
        (seed and epoch 0 for a bare index).
        """
        index, seed, epoch = key if isinstance(key, tuple) else (key, 0, 0)
        sample = self.samples[index]
        where = f"{self.list_file}:{sample.line}"
        image = read_image(sample.image, where)
        size = image.shape[:2]
        if sample.label is None:
            label = None
        else:
            try:
                raw = self.load_label(sample.label, where)
            except LabelFileError as error:
                if not looks_like_label(sample.image):
                    raise
                raise LabelFileError(
                    f"{error}; the image {sample.image} has one channel, as a label has: are the "
                    "two columns of the list swapped? (expected 'image label')"
                ) from None
            if raw.shape != size:
                raise DataError(
                    f"{where}: label {sample.label} is {raw.shape[1]}x{raw.shape[0]} but image "
                    f"{sample.image} is {size[1]}x{size[0]}"
                )
            label = self.map_label(raw, f"{where}: label {sample.label}")
        if self.mode == "train":
            rng = augmentation_rng(seed, epoch, index)
            image, label = self.augment(image, label, self.random_params(*size, rng))
        elif self.center_crop and label is not None:
            image, label = self.center_crop_sample(image, label)
        image = torch.from_numpy(np.stack(cv2.split(image)[::-1]))  # BGR HWC -> RGB CHW
        if label is None:
            return image, torch.zeros((0, 0), dtype=torch.int64), size, sample.name
        return image, self._label_tensor(label), size, sample.name
