"""Multi-scale + flip prediction of one image: the original's loop against the Predictor
(tools/benchmark.py --multiscale).

One image is predicted at MULTISCALE with flip under the Cityscapes policy: the original's loop
(its passes, one image and one flip per eager fp32 forward, cv2 resizing on the host), once in a
fresh process with glibc's default allocator as the original runs and once in this process with
`utils.allocator`'s options, against the Predictor with the eager, exact and fast models (and
optionally the compiled fast model), round after round.
"""

import time
from statistics import median

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.fresh_process import run_in_fresh_process
from bench.model_setup import benchmark_model, sample_image
from datasets.transforms import scaled_size
from datasets.windows import plan_passes
from inference import Predictor, optimize
from models.outputs import main_output

__all__ = [
    "MULTISCALE",
    "ORIGINAL",
    "measure_multiscale",
    "original_multiscale",
    "print_multiscale",
]

MULTISCALE = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
ORIGINAL = "the original's passes, one input per eager fp32 forward, glibc's default allocator"


def original_pass(model, image, align_corners):
    """The original `inference` with flip: a (h, w, 3) float image and its mirror, one forward
    each, logits resized to the input, averaged, exp."""
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None])
    size = x.shape[-2:]
    pred = F.interpolate(main_output(model(x)), size, mode="bilinear", align_corners=align_corners)
    mirrored = main_output(model(torch.from_numpy(x.numpy()[:, :, :, ::-1].copy())))
    mirrored = F.interpolate(mirrored, size, mode="bilinear", align_corners=align_corners)
    pred += torch.from_numpy(mirrored.numpy()[:, :, :, ::-1].copy())
    return (pred * 0.5).exp()


def original_multiscale(model, image, num_classes, crop, base_size, align_corners):
    """The original `Cityscapes.multi_scale_inference` at MULTISCALE with flip, as it runs: the
    normalised image on the host as (H, W, 3), cv2 resizing, every pass and its mirror its own
    eager forward, whole images at scales <= 1 (whatever their size), above them the windows of
    the Predictor's "cityscapes" policy (a stride of the crop, the last one anchored at the
    end), which are the original's."""
    _, _, height, width = image.shape
    hwc = image[0].numpy().transpose(1, 2, 0).copy()
    final = torch.zeros(1, num_classes, height, width)
    for scale in MULTISCALE:
        new_h, new_w = scaled_size(height, width, int(base_size * scale + 0.5))
        scaled = cv2.resize(hwc, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        if scale <= 1.0:
            preds = original_pass(model, scaled, align_corners)
        else:
            preds = torch.zeros(1, num_classes, new_h, new_w)
            count = torch.zeros(1, 1, new_h, new_w)
            for (y0, y1, x0, x1), _ in plan_passes("cityscapes", new_h, new_w, crop, scale):
                pred = original_pass(model, scaled[y0:y1, x0:x1], align_corners)
                preds[:, :, y0:y1, x0:x1] += pred
                count[:, :, y0:y1, x0:x1] += 1
            preds = preds / count
        final += F.interpolate(preds, (height, width), mode="bilinear", align_corners=align_corners)
    return final


def temper_logits(model, image, num_classes, spread=3.0):
    """Scale the classifiers (convolutions with `num_classes` outputs) of a random model so that
    its logits on `image` have a standard deviation of `spread`, as a trained model's: He-normal
    weights give logits of about 1e4, whose `exp` overflows in the original's sum."""
    with torch.no_grad():
        factor = spread / main_output(model(image)).std().item()
        for module in model.modules():
            if isinstance(module, nn.Conv2d) and module.out_channels == num_classes:
                module.weight.mul_(factor)
                if module.bias is not None:
                    module.bias.mul_(factor)


def _setup(cfg_file, pth, opts, size):
    """(cfg, model, image, the original's loop on them as a function): the same in every
    process, from the same seed."""
    cfg, model = benchmark_model(cfg_file, pth, ["TEST.POLICY", "cityscapes", *opts])
    width, height = cfg.TEST.IMAGE_SIZE
    crop, base_size, align = (height, width), cfg.TEST.BASE_SIZE, cfg.MODEL.ALIGN_CORNERS
    num_classes = cfg.DATASET.NUM_CLASSES
    image = sample_image(size)
    if not pth:
        temper_logits(model, F.interpolate(image, scale_factor=0.25), num_classes)

    def original():
        return original_multiscale(model, image, num_classes, crop, base_size, align)

    return cfg, model, image, original


def _timed(run):
    """(seconds, argmax prediction) of one call of `run`."""
    with torch.no_grad():
        start = time.perf_counter()
        prediction = run().argmax(1)
    return time.perf_counter() - start, prediction


def _time_original(cfg_file, pth, opts, size):
    """(seconds, argmax prediction as an array) of one run of the original's loop: what a fresh
    process with glibc's default allocator returns."""
    seconds, prediction = _timed(_setup(cfg_file, pth, opts, size)[3])
    return seconds, prediction.numpy()


def measure_multiscale(cfg_file, size, rounds, pth=None, opts=(), compile=False):
    """Seconds per round and share of argmax pixels equal to the original's, per method; with
    the geometry of the passes, for `print_multiscale`."""
    cfg, model, image, original = _setup(cfg_file, pth, opts, size)
    width, height = cfg.TEST.IMAGE_SIZE
    crop, base_size = (height, width), cfg.TEST.BASE_SIZE
    cfg.defrost()
    cfg.TEST.SCALE_LIST, cfg.TEST.FLIP_TEST = list(MULTISCALE), True

    def predictor(path):
        return lambda: Predictor.from_config(cfg, path, "cpu")(image)

    runs = {
        "the same loop with set_allocator_options": original,
        "Predictor, eager fp32 model": predictor(model),
        "Predictor, exact model (`--exact`)": predictor(optimize(model, "exact")),
        "Predictor, fast model (the default)": predictor(optimize(model, "fast")),
    }
    if compile:
        compiled = optimize(model, "fast", compile=True)
        with torch.no_grad():  # compile for the batch of two crops before timing
            compiled(torch.zeros(2, 3, *crop))
        runs["Predictor, fast + torch.compile (compiled beforehand)"] = predictor(compiled)
    seconds = {name: [] for name in (ORIGINAL, *runs)}
    predictions = {}
    for _ in range(rounds):
        elapsed, prediction = run_in_fresh_process(
            _time_original, cfg_file, pth, opts, size,
            allocator=False, threads=torch.get_num_threads(),
        )  # fmt: skip
        seconds[ORIGINAL].append(elapsed)
        predictions[ORIGINAL] = torch.from_numpy(prediction)
        for name, run in runs.items():
            elapsed, predictions[name] = _timed(run)
            seconds[name].append(elapsed)
    plan = [
        plan_passes(
            "cityscapes", *scaled_size(*size, int(base_size * s + 0.5)), crop, s, base_sized=True
        )
        for s in MULTISCALE
    ]
    return {
        "size": tuple(size),
        "crop": crop,
        "base_size": base_size,
        "passes": sum(len(p) for p in plan),
        "whole": sum(len(p) == 1 and p[0][0][1::2] == p[0][1] for p in plan),
        "rounds": rounds,
        "seconds": seconds,
        "same": {
            name: (prediction == predictions[ORIGINAL]).float().mean().item()
            for name, prediction in predictions.items()
        },
    }


def print_multiscale(result):
    """Print `measure_multiscale`'s result as a table: seconds and speed-up against the
    original's loop in a process of its own."""
    (height, width), crop = result["size"], result["crop"]
    print(
        f"one 1x3x{height}x{width} image, scales {list(MULTISCALE)} + flip, the "
        f"Cityscapes policy, crop {crop[0]}x{crop[1]}, base size {result['base_size']}: "
        f"{result['passes']} passes ({result['whole']} whole images) x 2 flips; "
        f"{torch.get_num_threads()} threads, median of {result['rounds']} rounds"
    )
    reference = median(result["seconds"][ORIGINAL])
    print("| method | seconds | speed-up | same pixels as the original |")
    print("|---|---:|---:|---:|")
    for name, values in result["seconds"].items():
        print(
            f"| {name} | {median(values):.1f} | {reference / median(values):.2f}x "
            f"| {100 * result['same'][name]:.3f}% |"
        )
