"""The panorama fork's functions, with its names and arguments (its later API included).

`network` is a bare model (one forward pass at the image's own size, as the fork did) or a
`Segmenter` (the TEST settings of a config: scales, flip, sliding window):

    single_image_inference(network, image)                   -> (H, W) uint8 class map
    batch_inference(network, batch, output_max_probability=False, output_raw=False)
        -> (N, H, W) class maps [, (N, H, W) max probabilities] [, (N, K, H, W) raw scores]
    inference(network, {"input_list": [...], "output_list": [...]})  writes class-index PNGs

An image is BGR uint8 (H, W, 3), as `cv2.imread` returns it, or already preprocessed as the fork
passed it: a float (3, H, W) array or tensor.

A bare model's logits are resized to the image with `align_corners` and, for a model with
several outputs, the one of `output_index` is used; pass a config's MODEL.ALIGN_CORNERS and
TEST.OUTPUT_INDEX for its model. By default: `FORK_ALIGN_CORNERS` (False: the fork resized with
the pytorch-v1.1 code's `F.upsample` default, as experiments/panorama/train.yaml's
MODEL.ALIGN_CORNERS; lib/config/default.py's default, True, is the OCR recipes') and
TEST.OUTPUT_INDEX's default (lib/config/default.py: the last output). A `Segmenter` has its
config's.
"""

import numpy as np
import torch
import torch.nn.functional as F

from config import get_defaults
from models.outputs import main_output
from utils.image_io import read_image, write_png

from .segmenter import Segmenter, default_preprocess_function

__all__ = ["batch_inference", "inference", "single_image_inference"]

FORK_ALIGN_CORNERS = False
_OUTPUT_INDEX = get_defaults().TEST.OUTPUT_INDEX


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


def _predict(network, batch, align_corners=None, output_index=None, raw=False):
    """(class maps, max probabilities, raw scores or None) of a preprocessed batch
    (N, 3, H, W). Raw scores are the logits upsampled to the input size for a bare model, the
    log of the averaged probabilities for a Segmenter."""
    if isinstance(network, Segmenter):
        probabilities = network.probabilities(batch)
        scores = probabilities.clamp_min(torch.finfo(probabilities.dtype).tiny).log()
    else:
        if align_corners is None:
            align_corners = FORK_ALIGN_CORNERS
        if output_index is None:
            output_index = _OUTPUT_INDEX
        network.eval()
        device = next((p.device for p in network.parameters()), torch.device("cpu"))
        with torch.no_grad():
            outputs = main_output(network(batch.to(device)), output_index)
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
    network,
    image,
    preprocess_function=default_preprocess_function,
    align_corners=None,
    output_index=None,
):
    """Class map (H, W) uint8 of one image: BGR uint8 (H, W, 3), or already preprocessed (a float
    (3, H, W) array or tensor, as the fork passed it). With `preprocess_function=None` every
    input is taken as preprocessed. `align_corners` and `output_index` are used for a bare
    model only (defaults: see the module); a Segmenter has its own."""
    return batch_inference(
        network,
        [image],
        preprocess_function=preprocess_function,
        align_corners=align_corners,
        output_index=output_index,
    )[0]


def batch_inference(
    network,
    batch,
    output_max_probability=False,
    output_raw=False,
    preprocess_function=default_preprocess_function,
    align_corners=None,
    output_probability=False,
    output_index=None,
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
    classes, confidence, raw = _predict(
        network, inputs, align_corners, output_index, raw=output_raw
    )
    results = [classes]
    if output_max_probability or output_probability:
        results.append(confidence)
    if output_raw:
        results.append(raw)
    return results[0] if len(results) == 1 else tuple(results)


def inference(network, arguments):
    """Segment `arguments["input_list"]` (image paths) into class-index PNGs at
    `arguments["output_list"]`, with `arguments.get("preprocess_function")` (default: the
    ImageNet one), and `arguments.get("align_corners")` and `arguments.get("output_index")` for
    a bare model (defaults: see the module)."""
    inputs, outputs = list(arguments["input_list"]), list(arguments["output_list"])
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} input paths but {len(outputs)} output paths")
    preprocess = arguments.get("preprocess_function") or default_preprocess_function
    for source, target in zip(inputs, outputs, strict=True):
        class_map = single_image_inference(
            network,
            read_image(source),
            preprocess,
            arguments.get("align_corners"),
            arguments.get("output_index"),
        )
        write_png(target, class_map)
