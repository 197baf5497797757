"""Speed of the training data pipeline against the bare decoding of its files
(tools/benchmark.py --data).

`measure_data_pipeline` writes one Cityscapes-sized image and labelIds PNG, then times, in the
same run and interleaved, (a) decoding the two files and (b) one training sample of the
`cityscapes` dataset (decode, label mapping, random rescale, crop, flip, tensors). The ratio
b / a is what the pipeline adds on top of the unavoidable decoding; the target is <= 1.25.
"""

import random
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bench.timing import summary, time_interleaved
from datasets.cityscapes import LABEL_TO_TRAIN_ID, Cityscapes

TARGET_RATIO = 1.25


def write_cityscapes_sample(root, image_size=(1024, 2048), seed=0):
    """Write one synthetic image / labelIds pair in the Cityscapes layout; returns the list file.

    The image is a smooth colour field with sensor-like noise, so that its PNG is about as large
    (and as slow to decode) as a real leftImg8bit image; the label has regions of real labelIds.
    """
    root = Path(root)
    height, width = image_size
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (max(height // 32, 2), max(width // 32, 2), 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image += rng.normal(0, 2, image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    ids = np.array([0, 1, 4, *LABEL_TO_TRAIN_ID], np.uint8)
    regions = rng.choice(ids, (max(height // 64, 2), max(width // 64, 2)))
    label = cv2.resize(regions, (width, height), interpolation=cv2.INTER_NEAREST)
    image_item = "leftImg8bit/train/bench/bench_000000_000019_leftImg8bit.png"
    label_item = "gtFine/train/bench/bench_000000_000019_gtFine_labelIds.png"
    for item, array in ((image_item, image), (label_item, label)):
        (root / item).parent.mkdir(parents=True, exist_ok=True)
        cv2.imencode(".png", array)[1].tofile(root / item)
    list_file = root / "train.lst"
    list_file.write_text(f"{image_item}\t{label_item}\n")
    return list_file


def measure_data_pipeline(
    workdir=None, repeats=10, image_size=(1024, 2048), crop_size=(512, 1024), seed=0
):
    """Milliseconds (min, median, max) of decoding the two files and of one training sample,
    timed interleaved, and the ratio of the medians.

    `workdir` receives the synthetic files (a temporary folder when None).
    """
    if workdir is None:
        with tempfile.TemporaryDirectory() as tmp:
            return measure_data_pipeline(tmp, repeats, image_size, crop_size, seed)
    list_file = write_cityscapes_sample(workdir, image_size, seed)
    dataset = Cityscapes(
        workdir,
        list_file.name,
        19,
        mode="train",
        crop_size=crop_size,
        base_size=max(image_size),
        multi_scale=True,
        flip=True,
        ignore_label=255,
    )
    sample = dataset.samples[0]
    random.seed(seed)

    def decode():
        cv2.imdecode(np.fromfile(sample.image, np.uint8), cv2.IMREAD_COLOR)
        cv2.imdecode(np.fromfile(sample.label, np.uint8), cv2.IMREAD_UNCHANGED)

    def load():
        dataset[0]

    # the warm-up call fills the file cache, the allocator and OpenCV's threads
    times = time_interleaved({"decode": decode, "sample": load}, repeats)
    ms = {
        name: {k: v * 1000 for k, v in summary(t).items() if k != "runs"}
        for name, t in times.items()
    }
    return {
        "image_size": tuple(image_size),
        "crop_size": tuple(crop_size),
        "repeats": max(int(repeats), 1),
        "decode_ms": ms["decode"]["median"],
        "sample_ms": ms["sample"]["median"],
        "ms": ms,
        "ratio": ms["sample"]["median"] / ms["decode"]["median"],
    }


def print_data_report(result):
    """Print `measure_data_pipeline`'s result as a small table."""
    h, w = result["image_size"]
    ch, cw = result["crop_size"]
    print(
        f"cityscapes training sample: {w}x{h} PNG + labelIds -> {cw}x{ch} crop, multi-scale, "
        f"flip; {result['repeats']} interleaved rounds"
    )
    print("| step | min (ms) | median (ms) | max (ms) |")
    print("|---|---:|---:|---:|")
    steps = (("decode", "decode image + label (cv2.imdecode)"), ("sample", "full training sample"))
    for key, name in steps:
        ms = result["ms"][key]
        print(f"| {name} | {ms['min']:.1f} | {ms['median']:.1f} | {ms['max']:.1f} |")
    verdict = "meets" if result["ratio"] <= TARGET_RATIO else "misses"
    print(f"ratio {result['ratio']:.2f}x ({verdict} the target <= {TARGET_RATIO}x)")
