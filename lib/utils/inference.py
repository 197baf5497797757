"""Segment images with a trained model: the panorama fork's functions and a `Segmenter`.

The three functions keep the panorama fork's names and arguments (its later API included);
`network` is a bare model (one forward pass at the image's own size, as the fork did) or a
`Segmenter` (the TEST settings of a config: scales, flip, sliding window):

    single_image_inference(network, image)                   -> (H, W) uint8 class map
    batch_inference(network, batch, output_max_probability=False, output_raw=False)
        -> (N, H, W) class maps [, (N, H, W) max probabilities] [, (N, K, H, W) raw scores]
    inference(network, {"input_list": [...], "output_list": [...]})  writes class-index PNGs

An image is BGR uint8 (H, W, 3), as `cv2.imread` returns it, or already preprocessed as the fork
passed it: a float (3, H, W) array or tensor. `Segmenter.from_files(cfg, pth)`
builds everything from a YAML and a weights file, `Segmenter(predictor)` wraps a
`core.predictor.Predictor`; `segmenter(images)` returns class maps and confidences (the max
softmax probability) for a list of images of any sizes.
"""

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

import models
from config import load_config
from core.predictor import Predictor
from datasets import palette_for
from utils.distributed import pick_device
from utils.errors import ConfigError, DataError
from utils.fast_inference import optimize
from utils.visualize import voc_palette

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Segmenter",
    "batch_inference",
    "default_preprocess_function",
    "inference",
    "read_image",
    "single_image_inference",
    "write_class_map",
]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def default_preprocess_function(image):
    """BGR uint8 (H, W, 3) -> normalised RGB float32 (3, H, W): /255, ImageNet mean and std."""
    rgb = image[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))


def read_image(path):
    """BGR uint8 image of `path` (any file name, non-ASCII included); ValueError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} does not exist")
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{path}: not an image OpenCV can read")
    return image


def write_class_map(path, class_map):
    """Write a class map as a grey PNG (pixel value = class index); creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", np.asarray(class_map, dtype=np.uint8))
    if not ok:
        raise ValueError(f"cannot encode the class map of {path} as PNG")
    data.tofile(path)


class Segmenter:
    """A `core.predictor.Predictor` for BGR uint8 images: class maps and confidences out.

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
        segmenter runs an optimised copy (`utils.fast_inference.optimize(model, "fast")`:
        BatchNorm folded, channels_last, bf16 autocast on CPU / fp16 on CUDA); `exact` runs the
        model itself in fp32.
        """
        if int(batch_size) < 1:
            raise ConfigError(f"the batch size must be at least 1, got {batch_size}")
        if cfg.TEST.RESIZE != "keep":
            raise ConfigError(
                f"TEST.RESIZE {cfg.TEST.RESIZE} is an evaluation mode (tools/test.py, "
                "tools/export_onnx.py --evaluate); the segmenter predicts every image at its own "
                "aspect ratio: set TEST.RESIZE keep"
            )
        device = pick_device(device)
        model = model.to(device).eval()
        if not exact:
            model = optimize(model, "fast")
        predictor = Predictor.from_config(cfg, model, device, max_batch=batch_size)
        return cls(predictor, palette=palette_for(cfg))

    @classmethod
    def from_files(cls, cfg_file, weights=None, opts=(), device=None, exact=False, batch_size=4):
        """Build the model of `cfg_file` (+ `opts`), load `weights` (default TEST.MODEL_FILE)."""
        cfg = load_config(cfg_file, opts)
        weights = weights or cfg.TEST.MODEL_FILE
        if not weights:
            raise ConfigError(f"no weights file: pass --pth or set TEST.MODEL_FILE in {cfg_file}")
        model = models.build_model(cfg, pretrained=False)
        models.load_weights(model, weights)
        return cls.from_config(cfg, model, device, batch_size, exact)

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


def _is_preprocessed(image):
    """Whether `image` is already a network input: a floating-point (3, H, W) array or tensor,
    as the fork's `default_preprocess_function` returns (a BGR uint8 image is (H, W, 3))."""
    if isinstance(image, torch.Tensor):
        floating = image.is_floating_point()
    else:
        floating = np.issubdtype(np.asarray(image).dtype, np.floating)
    return floating and len(image.shape) == 3 and image.shape[0] == 3


def _network_input(batch, preprocess_function):
    """(N, 3, H, W) float tensor of a batch of images, preprocessed ones passed through."""
    inputs = [
        image
        if preprocess_function is None or _is_preprocessed(image)
        else preprocess_function(image)
        for image in batch
    ]
    if not inputs:
        raise ValueError("batch_inference needs at least one image")
    shapes = {tuple(image.shape) for image in inputs}
    if len(shapes) > 1:
        raise ValueError(f"batch_inference needs images of one size, got {sorted(shapes)}")
    return torch.stack([torch.as_tensor(image) for image in inputs]).float()


def _predict(network, batch, align_corners, raw=False):
    """(class maps, max probabilities, raw scores or None) of a preprocessed batch
    (N, 3, H, W). Raw scores are the logits upsampled to the input size for a bare model, the
    log of the averaged probabilities for a Segmenter."""
    if isinstance(network, Segmenter):
        probabilities = network.probabilities(batch)
        scores = probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log()
    else:
        network.eval()
        device = next((p.device for p in network.parameters()), torch.device("cpu"))
        with torch.no_grad():
            outputs = network(batch.to(device))
        if isinstance(outputs, list | tuple):
            outputs = outputs[-1]  # OCR: [aux, main]
        scores = F.interpolate(
            outputs.float(), size=batch.shape[-2:], mode="bilinear", align_corners=align_corners
        )
        probabilities = scores.softmax(dim=1)
    confidence, classes = probabilities.max(dim=1)
    return (
        classes.to(torch.uint8).cpu().numpy(),
        confidence.float().cpu().numpy(),
        scores.float().cpu().numpy() if raw else None,
    )


def single_image_inference(
    network, image, preprocess_function=default_preprocess_function, align_corners=False
):
    """Class map (H, W) uint8 of one image: BGR uint8 (H, W, 3), or already preprocessed (a float
    (3, H, W) array or tensor, as the fork passed it). With `preprocess_function=None` every
    input is taken as preprocessed. `align_corners` is used for a bare model only; a Segmenter
    has its own."""
    return batch_inference(
        network, [image], preprocess_function=preprocess_function, align_corners=align_corners
    )[0]


def batch_inference(
    network,
    batch,
    output_max_probability=False,
    output_raw=False,
    preprocess_function=default_preprocess_function,
    align_corners=False,
    output_probability=False,
):
    """Class maps (N, H, W) uint8 of a list of same-size images (BGR uint8 or preprocessed, as
    `single_image_inference`), or of an (N, H, W, 3) uint8 / (N, 3, H, W) float array.

    Returned after the class maps, in this order, when asked for: the max softmax probability of
    each pixel (N, H, W) with `output_max_probability` (`output_probability`, the fork's first
    name for it), and the raw scores (N, K, H, W) float32 with `output_raw`: the logits upsampled
    to the image size, as the fork returned them (a Segmenter gives the log of its averaged
    probabilities). Without either the class maps alone are returned.
    """
    inputs = _network_input(batch, preprocess_function)
    classes, confidence, raw = _predict(network, inputs, align_corners, raw=output_raw)
    results = [classes]
    if output_max_probability or output_probability:
        results.append(confidence)
    if output_raw:
        results.append(raw)
    return results[0] if len(results) == 1 else tuple(results)


def inference(network, arguments):
    """Segment `arguments["input_list"]` (image paths) into class-index PNGs at
    `arguments["output_list"]`, with `arguments.get("preprocess_function")` (default: the
    ImageNet one) and `arguments.get("align_corners", False)` for a bare model."""
    inputs, outputs = list(arguments["input_list"]), list(arguments["output_list"])
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} input paths but {len(outputs)} output paths")
    preprocess = arguments.get("preprocess_function") or default_preprocess_function
    align_corners = arguments.get("align_corners", False)
    for source, target in zip(inputs, outputs, strict=True):
        class_map = single_image_inference(network, read_image(source), preprocess, align_corners)
        write_class_map(target, class_map)
