"""predict_dataset: the original testval / test around the predictor."""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

import datasets
from config import load_config
from core.data import eval_loader
from helpers.original_prediction import original_multi_scale
from inference import Predictor, evaluate, predict_dataset


class PixelModel(torch.nn.Module):
    """A 3x3 convolution at full resolution."""

    def __init__(self, num_classes):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, num_classes, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def write_cocostuff(root, labelled=True):
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.uniform(0, 255, (4, 5, 3)).astype(np.uint8), (43, 30))
    label = rng.choice(np.array([1, 2, 3], np.uint8), (30, 43))
    (root / "img").mkdir(parents=True)
    cv2.imwrite(str(root / "img" / "a.png"), image)
    cv2.imwrite(str(root / "img" / "a_label.png"), label)
    (root / "val.lst").write_text("img/a.png img/a_label.png\n" if labelled else "img/a.png\n")
    return label


# two scales with flip; labels 255 ignored
MULTI_SCALE = [
    "TEST.SCALE_LIST", "[0.75, 1.0]", "TEST.FLIP_TEST", "True", "TRAIN.IGNORE_LABEL", "255",
]  # fmt: skip


def cocostuff_config(root, *opts):
    """COCO-Stuff's test handling for the list of `write_cocostuff`: base size 40, 32x32 crop."""
    return load_config(
        None,
        ["DATASET.DATASET", "cocostuff", "DATASET.ROOT", str(root), "DATASET.NUM_CLASSES",
         "171", "DATASET.TEST_SET", "val.lst", "TEST.IMAGE_SIZE", "[32, 32]", "TEST.BASE_SIZE",
         "40", *opts],
    )  # fmt: skip


def test_scores_are_cut_to_the_image_and_resized_to_the_label(tmp_path):
    """COCO-Stuff: the test image is the short side resized to 40 and padded to 40x64; the
    prediction drops the padding (40x57) and is resized to the 30x43 label, as the original."""
    write_cocostuff(tmp_path)
    cfg = cocostuff_config(tmp_path, *MULTI_SCALE, "MODEL.ALIGN_CORNERS", "True")
    model = PixelModel(171).eval()
    dataset = datasets.build_dataset(cfg, "test")
    saved = {}
    confusion = predict_dataset(
        Predictor.from_config(cfg, model, "cpu"),
        eval_loader(dataset, 1, 0, False, 1, 0, 255),
        171,
        255,
        save=lambda class_map, name: saved.update({name: class_map}),
        show_progress=False,
    )
    image = datasets.normalize(dataset[0][0][None])
    assert image.shape[-2:] == (40, 64)
    with torch.no_grad():
        scores = original_multi_scale(model, image, [0.75, 1.0], True, (32, 32), 40, True)
    expected = F.interpolate(scores[:, :, :40, :57], (30, 43), mode="bilinear", align_corners=True)
    np.testing.assert_array_equal(saved["a_label"], expected.argmax(1)[0].numpy())
    assert confusion.sum() == 30 * 43


def test_image_only_predictions_come_at_the_image_size(tmp_path):
    write_cocostuff(tmp_path, labelled=False)
    cfg = cocostuff_config(tmp_path)
    dataset = datasets.build_dataset(cfg, "test")
    saved = {}
    confusion = predict_dataset(
        Predictor.from_config(cfg, PixelModel(171).eval(), "cpu"),
        eval_loader(dataset, 1, 0, False, 1, 0, 255),
        171,
        255,
        save=lambda class_map, name: saved.update({name: class_map.shape}),
        show_progress=False,
    )
    assert confusion is None and saved == {"a": (30, 43)}


def test_evaluate_builds_the_split_loader_and_predictor_from_the_config(tmp_path):
    """`evaluate(cfg, model, split)`: the dataset, loader and predictor of the config (TEST
    settings), then the loop above; the same confusion and predictions as built by hand."""
    label = write_cocostuff(tmp_path)
    cfg = cocostuff_config(tmp_path, *MULTI_SCALE, "WORKERS", "0")
    model = PixelModel(171).eval()
    saved = {}
    confusion = evaluate(cfg, model, "test", save=lambda m, name: saved.update({name: m}))
    dataset = datasets.build_dataset(cfg, "test")
    expected = predict_dataset(
        Predictor.from_config(cfg, model, "cpu"),
        eval_loader(dataset, 1, 0, False, 1, 0, 255),
        171,
        255,
        show_progress=False,
    )
    np.testing.assert_array_equal(confusion, expected)
    assert confusion.sum() == 30 * 43 and saved["a_label"].shape == label.shape
    predicted = np.bincount(saved["a_label"].ravel(), minlength=171)
    np.testing.assert_array_equal(confusion.sum(0), predicted)
