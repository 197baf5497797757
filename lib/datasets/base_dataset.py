"""The base of every dataset: a list reader, a label map and the transforms put together.

A dataset item is `(image, label, size, name)`:

- `image`: uint8 tensor (3, H, W), RGB, *not* normalised. Batch first, then turn the batch into
  the network input with `normalize(batch)` on the device (GPU or CPU): moving uint8 is 4x less
  data than float, and the normalisation of a whole batch is one fast tensor operation.
- `label`: int64 tensor (H, W) of class indices, `ignore_label` where there is no class; an
  empty (0, 0) tensor for an image-only list.
- `size`: (height, width) of the image as read from disk.
- `name`: the image file name without extension (names saved predictions).

The parts: `list_reader` (datasets/list_reader.py) turns the list file into samples, and every
listed file is checked for existence when the dataset is built, so a missing file stops a run
before it trains; `label_table()` with `flip_pairs` and `saved_values` becomes the `LabelMap`
(datasets/label_map.py) that maps raw label values to classes, swaps left/right classes under a
flip and turns predictions back into raw values; `TrainAugmentation` (datasets/transforms.py)
is the training augmentation. A dataset class is these class attributes plus, where its files
need it, `label_table()`, `load_label()` (colour labels) or `palette_for()` (its own colours);
nothing outside its file changes (the predictor reads `flip_pairs` and `test_policy` from it).

A JPEG label, a colour image where raw values are expected and swapped list columns are errors
that say what the file looks like (utils/image_io.py). The training augmentation of a sample is
drawn from a generator seeded with (seed, epoch, sample index), never from a process's global
generator, so every process and DataLoader worker, and a resumed run, draws the same
augmentation for the same sample.
"""

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from utils.errors import ConfigError, DataError
from utils.image_io import LabelFileError, looks_like_label, read_image, read_label, write_png

from .label_map import LabelMap, identity_table
from .list_reader import PairList, check_files
from .palette import class_table_palette
from .panorama_augmentation import panorama_augmentation
from .transforms import (
    FIT_STRIDE,
    TrainAugmentation,
    augmentation_rng,
    center_crop,
    random_crop,
    resize_short_side,
    short_side_size,
    squash,
)

MODES = ("train", "val", "test")
FORK_AUGMENTATIONS = ("", "panorama")  # DATASET.AUGMENTATION


class BaseDataset(Dataset):
    """A list of images (and labels) with the original HRNet training augmentation.

    `mode`:
      - "train": the `TrainAugmentation` of the TRAIN settings (`self.augmentation`).
      - "val": the whole image, no augmentation; with `center_crop`, the long side resized to
        `base_size` and the centre `crop_size` cut.
      - "test": as "val"; the list may hold images only.
    """

    list_reader = PairList()  # list file -> samples
    num_classes_choices = ()  # allowed DATASET.NUM_CLASSES (empty: any)
    flip_pairs = ()  # class pairs that swap under a horizontal flip (the predictor reads them)
    saved_values = None  # raw value saved for each class (default: the label table's inverse)
    saved_palette = None  # palette of the saved predictions (None: grey PNGs)
    test_policy = "base"  # the test policy of the predictor (datasets/windows.py)
    squash_to_crop = False  # resized to the crop (aspect not kept): for training before the
    # random rescale, for testing instead of the original size (LIP)
    # The short side resized to the base size first, as the OCR branch's ADE20K, COCO-Stuff and
    # (2021) PASCAL-Context: before the training augmentation, and for testing padded to a
    # multiple of FIT_STRIDE with the mean colour (DATASET.SHORT_SIDE turns it on for any dataset).
    short_side = False
    crop_test_padding = True  # with short_side: cut the test padding off the prediction
    # Validation as the original (TEST.VAL_PREPARATION original): image and label squashed to the
    # crop (LIP, PASCAL-Context before 2021); short_side datasets: the short side resized,
    # padded to a multiple of FIT_STRIDE, then a random crop; the others: the whole image.
    val_squash = False
    default_class_weights = None  # per-class loss weights used when DATASET.CLASS_WEIGHTS is empty
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
        short_side=False,
        fork_augmentation="",
        original_validation=False,
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
        self.short_side = self.short_side or bool(short_side)
        if fork_augmentation not in FORK_AUGMENTATIONS:
            raise ConfigError(
                f"DATASET.AUGMENTATION is {fork_augmentation!r}; expected '' (the HRNet "
                f"augmentation) or {', '.join(repr(n) for n in FORK_AUGMENTATIONS if n)}"
            )
        self.fork_augmentation = fork_augmentation
        self.original_validation = bool(original_validation)
        self.augmentation = TrainAugmentation(
            crop_size=(int(crop_size[0]), int(crop_size[1])),
            base_size=int(base_size),
            multi_scale=bool(multi_scale),
            flip=bool(flip),
            scale_factor=int(scale_factor),
            downsample_rate=int(downsample_rate),
            random_brightness=bool(random_brightness),
            brightness_shift=int(brightness_shift),
            squash_to_crop=self.squash_to_crop,
        )
        self.crop_size = self.augmentation.crop_size
        self.base_size = self.augmentation.base_size
        self.ignore_label = int(ignore_label)
        self.center_crop = bool(center_crop)
        weights = class_weights if class_weights else self.default_class_weights
        if weights is not None and len(weights) != self.num_classes:
            raise ConfigError(
                f"DATASET.CLASS_WEIGHTS has {len(weights)} values for {self.num_classes} classes"
            )
        self.class_weights = None if weights is None else [float(w) for w in weights]

        self.list_file = self.list_reader.locate(root, list_path)
        self.samples = self.list_reader.read(root, self.list_file, mode)
        if num_samples:
            self.samples = self.samples[: int(num_samples)]
        self.labelled = self.samples[0].label is not None
        self.labels = LabelMap(
            self.label_table(),
            self.num_classes,
            self.flip_pairs,
            self.saved_values,
            owner=type(self).__name__,
        )
        check_files(self.list_file, self.samples)

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

    def load_label(self, path, where):
        """The raw label values of `path` (H, W); datasets with colour labels override this."""
        return read_label(path, where)

    @classmethod
    def palette_for(cls, cfg):
        """RGB palette of the classes for `cfg` (pictures of predictions): its class table when
        it describes NUM_CLASSES classes, else VOC; a dataset with its own colours overrides
        this."""
        return class_table_palette(cfg)

    def _original_validation(self, image, label, rng):
        """The validation item of the original dataset class (see `val_squash`)."""
        ignore = self.labels.ignore_value
        if self.short_side:  # resize_short_length(fit_stride=8), then rand_crop
            image, label = resize_short_side(image, label, self.base_size, FIT_STRIDE, ignore)
            return random_crop(image, label, self.crop_size, rng, ignore)
        if self.val_squash:
            return squash(image, label, self.crop_size)
        return image, label

    def _test_image(self, image):
        """The image as the original `testval` prepared it (the label stays as read): squashed
        to the crop (LIP), or its short side resized and padded to a multiple of FIT_STRIDE."""
        if self.squash_to_crop:
            return squash(image, None, self.crop_size)[0]
        if self.short_side:
            return resize_short_side(image, None, self.base_size, FIT_STRIDE)[0]
        return image

    def prediction_crop(self, size):
        """The part (h, w) of a test prediction that shows the source image of `size` (h, w);
        None for the whole prediction."""
        if self.short_side and self.crop_test_padding and not self.squash_to_crop:
            return short_side_size(*size, self.base_size)
        return None

    def save_prediction(self, class_map, name, save_dir):
        """Write `save_dir/<name>.png`: the prediction as raw label values (a grey PNG, or a
        palette PNG with `saved_palette`)."""
        path = Path(save_dir) / f"{name}.png"
        return write_png(path, self.labels.to_ids(class_map), self.saved_palette)

    # -- items -----------------------------------------------------------------------------

    def _read_label(self, sample, size, where):
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
        return self.labels.map(raw, f"{where}: label {sample.label}")

    def __getitem__(self, key):
        """(image uint8 (3, H, W) RGB, label int64 (H, W), size (h, w), name); see the module.

        `key` is a sample index, or (index, seed, epoch) as `core.data.TrainSampler` yields
        them: the training augmentation is drawn from `augmentation_rng(seed, epoch, index)`
        (seed and epoch 0 for a bare index).
        """
        index, seed, epoch = key if isinstance(key, tuple) else (key, 0, 0)
        sample = self.samples[index]
        where = f"{self.list_file}:{sample.line}"
        image = read_image(sample.image, where=where)
        size = image.shape[:2]
        label = None if sample.label is None else self._read_label(sample, size, where)
        rng = augmentation_rng(seed, epoch, index)
        if self.fork_augmentation == "panorama" and label is not None:
            # as the fork's __getitem__: every labelled list, for validation and testing too
            image, label = panorama_augmentation(image, label, self.crop_size, rng)
        elif self.mode == "train":
            if self.short_side:
                image, label = resize_short_side(image, label, self.base_size)
            params = self.augmentation.draw(*image.shape[:2], rng)
            image, label = self.augmentation.apply(image, label, params, self.labels)
        elif self.center_crop and label is not None:
            image, label = center_crop(
                image, label, self.base_size, self.crop_size, self.labels.ignore_value
            )
        elif self.mode == "val" and self.original_validation and label is not None:
            image, label = self._original_validation(image, label, rng)
        if self.mode == "test":
            image = self._test_image(image)
        image = torch.from_numpy(np.stack(cv2.split(image)[::-1]))  # BGR HWC -> RGB CHW
        if label is None:
            return image, torch.zeros((0, 0), dtype=torch.int64), size, sample.name
        return image, self.labels.to_tensor(label, self.ignore_label), size, sample.name
