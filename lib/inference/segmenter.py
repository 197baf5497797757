"""Segment images with a trained model: the `Segmenter`.

An image is BGR uint8 (H, W, 3), as `cv2.imread` returns it. `Segmenter.from_files(cfg, model
file)` builds everything from a YAML and a weights file or an export (.onnx, TorchScript),
`Segmenter.from_config(cfg, model)` from a model you have, `Segmenter(predictor)` wraps an
`inference.Predictor`; `segmenter(images)` returns class maps and confidences (the max softmax
probability) for a list of images of any sizes.
"""

import numpy as np
import torch

from config import load_config
from datasets import IMAGENET_MEAN, IMAGENET_STD, palette_for
from utils.distributed import pick_device
from utils.errors import ConfigError, DataError
from utils.visualize import voc_palette

from .exported import export_window
from .loading import load_model, prepare_model
from .predictor import Predictor

__all__ = ["Segmenter", "default_preprocess_function"]

_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32)
_STD = np.array(IMAGENET_STD, dtype=np.float32)


def default_preprocess_function(image):
    """BGR uint8 (H, W, 3) -> normalised RGB float32 (3, H, W): /255, ImageNet mean and std."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise DataError(
            f"an image of shape {image.shape}; expected a BGR colour image (H, W, 3), e.g. from "
            "cv2.imread(path) or utils.image_io.read_image (grey: cv2.cvtColor(image, "
            "cv2.COLOR_GRAY2BGR))"
        )
    rgb = image[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(((rgb - _MEAN) / _STD).transpose(2, 0, 1))


class Segmenter:
    """An `inference.Predictor` for BGR uint8 images: class maps and confidences out.

    Each image runs at its own size times each scale (the predictor's `base_size` is not used),
    with the predictor's test policy, windows (`crop_size`) and flip; confidences are the
    probabilities of the predicted classes. Images go through the model `predictor.max_batch`
    at a time, consecutive images of the same size together.
    """

    def __init__(self, predictor, *, preprocess_function=default_preprocess_function, palette=None):
        if not 1 <= predictor.num_classes <= 256:
            raise ConfigError(
                f"class maps are uint8: 1..256 classes supported, got {predictor.num_classes}"
            )
        self.predictor = predictor.with_sizes(predictor.crop_size, base_size=None)
        self.device = predictor.device
        self.batch_size = predictor.max_batch
        self.preprocess_function = preprocess_function
        self.palette = voc_palette() if palette is None else np.asarray(palette, np.uint8)

    @classmethod
    def from_config(cls, cfg, model, device=None, batch_size=4, exact=False):
        """A segmenter with the TEST settings of `cfg` (scales, flip, IMAGE_SIZE windows, the
        dataset's test policy).

        TEST.BASE_SIZE is not used: images run at their own size times TEST.SCALE_LIST. The model
        is put in eval mode on `device` (default: the GPU if any, else the CPU). Unless `exact`, the
        segmenter runs an optimised copy (`inference.optimize(model, "fast")`: BatchNorm folded,
        channels_last, bf16 autocast on CPU / fp16 on CUDA); `exact` runs the model itself in
        fp32.
        """
        device = pick_device(device)
        model = prepare_model(model, "eager" if exact else "fast", device)
        return cls._for_model(cfg, model, device, batch_size)

    @classmethod
    def from_files(cls, cfg_file, weights=None, opts=(), device=None, exact=False, batch_size=4):
        """The model of `cfg_file` (+ `opts`) with `weights` (default TEST.MODEL_FILE): a weights
        file (.pth), or an export (.onnx, TorchScript: run as exported, `exact` does not apply;
        a fixed-size export's size becomes the window)."""
        cfg = load_config(cfg_file, opts)
        weights = weights or cfg.TEST.MODEL_FILE
        if not weights:
            raise ConfigError(f"no weights file: pass --pth or set TEST.MODEL_FILE in {cfg_file}")
        device = pick_device(device)
        model = load_model(cfg, weights, "eager" if exact else "fast", device)
        return cls._for_model(export_window(cfg, model), model, device, batch_size)

    @classmethod
    def _for_model(cls, cfg, model, device, batch_size):
        if int(batch_size) < 1:
            raise ConfigError(f"the batch size must be at least 1, got {batch_size}")
        if cfg.TEST.RESIZE != "keep":
            raise ConfigError(
                f"TEST.RESIZE {cfg.TEST.RESIZE} is an evaluation mode (tools/test.py, "
                "tools/export_onnx.py --evaluate); the segmenter predicts every image at its own "
                "aspect ratio: set TEST.RESIZE keep"
            )
        predictor = Predictor.from_config(cfg, model, device, max_batch=batch_size)
        return cls(predictor, palette=palette_for(cfg))

    def probabilities(self, batch):
        """Class probabilities (N, K, H, W) of a preprocessed float batch (N, 3, H, W), tensor
        or array, on the segmenter's device."""
        return self.predictor(torch.as_tensor(batch))

    def predict(self, batch):
        """Class maps (N, H, W) uint8 and confidences (N, H, W) float32 of a preprocessed
        float batch (N, 3, H, W), tensor or array."""
        confidence, classes = self.probabilities(batch).max(dim=1)
        return classes.to(torch.uint8).cpu().numpy(), confidence.float().cpu().numpy()

    def __call__(self, images):
        """Class maps (H, W) uint8 and confidences (H, W) float32, one each per BGR image."""
        class_maps, confidences = [], []
        start = 0
        while start < len(images):
            shape = images[start].shape
            stop = start + 1
            while stop < min(len(images), start + self.batch_size) and images[stop].shape == shape:
                stop += 1
            batch = np.stack([self.preprocess_function(image) for image in images[start:stop]])
            classes, confidence = self.predict(batch)
            class_maps.extend(classes)
            confidences.extend(confidence)
            start = stop
        return class_maps, confidences
