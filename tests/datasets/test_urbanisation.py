"""urbanisation: DeepGlobe greys -> 7 classes (255 is barren), saved greys, fine-tuned training."""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import datasets
import models
from config import load_config
from datasets.urbanisation import CLASS_WEIGHTS, LABEL_GREYS, PREDICTION_GREYS
from helpers.dataset_files import blocks, config, smooth_image, train_one_epoch, write_pairs
from helpers.model_specs import TINY_MODEL
from utils.visualize import voc_palette

GREYS = np.array([[0, 178, 225, 105], [149, 29, 255, 255]], np.uint8)
CLASSES = [[0, 1, 2, 3], [4, 5, 6, 6]]


def write_urbanisation(root, split, labels, legacy_layout=True):
    """ROOT/urbanisation/x|y/<split>/ and ROOT/list/urbanisation/<split>.lst (test: images)."""
    data = root / "urbanisation" if legacy_layout else root
    pairs = [
        (
            f"x/{split}/{i}_sat.png",
            smooth_image(*label.shape, seed=i),
            None if split == "test" else f"y/{split}/{i}_mask.png",
            label,
        )
        for i, label in enumerate(labels)
    ]
    list_file = write_pairs(data, pairs)
    (root / "list" / "urbanisation").mkdir(parents=True, exist_ok=True)
    list_file.rename(root / "list" / "urbanisation" / f"{split}.lst")


def urbanisation_config(root, *opts):
    return config(
        "urbanisation", root, 7, "list/urbanisation/train.lst", "list/urbanisation/val.lst",
        "TRAIN.IGNORE_LABEL", "-1", *opts,
    )  # fmt: skip


@pytest.mark.parametrize("legacy_layout", [True, False])
def test_greys_map_to_classes(tmp_path, legacy_layout):
    write_urbanisation(tmp_path, "val", [GREYS], legacy_layout)
    dataset = datasets.build_dataset(urbanisation_config(tmp_path), "val")
    image, label, size, name = dataset[0]
    assert label.tolist() == CLASSES and size == (2, 4) and name == "0_mask"
    assert dataset.class_names[6] == "barren" and dataset.class_weights == list(CLASS_WEIGHTS)


def test_barren_255_is_a_class_and_only_padding_is_ignored(tmp_path):
    write_urbanisation(tmp_path, "train", [np.full((8, 8), 255, np.uint8)])
    cfg = urbanisation_config(
        tmp_path,
        "TRAIN.IMAGE_SIZE",
        "[16, 16]",
        "TRAIN.BASE_SIZE",
        "16",
        "TRAIN.SCALE_FACTOR",
        "0",
        "TRAIN.FLIP",
        "False",
    )  # fmt: skip  (scale 0.5: the 8x8 label stays 8x8, padded to the 16x16 crop)
    label = datasets.build_dataset(cfg, "train")[0][1]
    assert label.shape == (16, 16)
    assert torch.all(label[:8, :8] == 6) and torch.all(label[8:] == -1)
    assert torch.all(label[:, 8:] == -1)


def test_greys_rounded_by_pil_and_opencv_are_read_too(tmp_path):
    colours = np.array([[[0, 255, 255], [255, 255, 0], [255, 0, 255], [0, 255, 0]]], np.uint8)
    grey = np.asarray(Image.fromarray(colours).convert("L"))
    assert grey.tolist() == [[179, 226, 105, 150]]
    write_urbanisation(tmp_path, "val", [grey])
    assert datasets.build_dataset(urbanisation_config(tmp_path), "val")[0][1].tolist() == [
        [1, 2, 3, 4]
    ]


def test_deepglobe_rgb_masks_are_read_as_the_fork_read_them(tmp_path):
    """The fork read every label with cv2.IMREAD_GRAYSCALE: DeepGlobe's RGB masks work as they
    are downloaded."""
    rgb = np.array(
        [[[0, 0, 0], [0, 255, 255], [255, 255, 0], [255, 0, 255]],
         [[0, 255, 0], [0, 0, 255], [255, 255, 255], [255, 255, 255]]], np.uint8,
    )  # fmt: skip
    write_urbanisation(tmp_path, "val", [GREYS])
    path = next((tmp_path / "urbanisation").rglob("*_mask.png"))
    cv2.imwrite(str(path), rgb[..., ::-1])  # the downloaded RGB mask instead
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (2, 4, 3)
    assert cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).tolist() == [
        [0, 178, 225, 105], [149, 29, 255, 255]
    ]  # fmt: skip
    dataset = datasets.build_dataset(urbanisation_config(tmp_path), "val")
    assert dataset[0][1].tolist() == CLASSES


def test_other_grey_values_are_an_error_naming_the_file(tmp_path):
    write_urbanisation(tmp_path, "val", [np.array([[0, 100]], np.uint8)])
    dataset = datasets.build_dataset(urbanisation_config(tmp_path), "val")
    with pytest.raises(ValueError, match=r"val.lst:1: label .*0_mask.png has value\(s\) 100"):
        dataset[0]


def test_test_list_and_predictions_in_the_original_greys(tmp_path):
    write_urbanisation(tmp_path, "test", [GREYS])
    cfg = urbanisation_config(tmp_path, "DATASET.TEST_SET", "list/urbanisation/test.lst")
    dataset = datasets.build_dataset(cfg, "test")
    assert not dataset.labelled
    path = dataset.save_prediction(np.array(CLASSES), "0_sat", tmp_path / "pred")
    with Image.open(path) as saved:
        assert saved.mode == "P"
        assert np.asarray(saved).tolist() == [[0, 177, 226, 106], [150, 36, 255, 255]]
        palette = np.array(saved.getpalette(), np.uint8).reshape(-1, 3)
    assert np.array_equal(palette[:256], voc_palette())
    # Only water, urban, agriculture, rangeland and forest were shifted.
    assert [p - g for p, g in zip(PREDICTION_GREYS, LABEL_GREYS, strict=True)] == [
        0, -1, 1, 1, 1, 7, 0
    ]  # fmt: skip


def test_fine_tunes_a_19_class_ocr_checkpoint_through_tools_train(tmp_path):
    """The experiment's recipe in small: a 7-class OCR model from a 19-class checkpoint."""
    labels = [blocks(LABEL_GREYS, 32, 32, seed=i) for i in range(4)]
    write_urbanisation(tmp_path / "data", "train", labels)
    write_urbanisation(tmp_path / "data", "val", labels[:2])
    ocr = [
        "MODEL.NAME", "seg_hrnet_ocr", "LOSS.BALANCE_WEIGHTS", "[0.4, 1]",
        "MODEL.OCR.MID_CHANNELS", "16", "MODEL.OCR.KEY_CHANNELS", "8",
    ]  # fmt: skip
    cityscapes_yaml = tmp_path / "cityscapes.yaml"
    cityscapes_yaml.write_text(TINY_MODEL)
    torch.manual_seed(0)
    cityscapes = models.build_model(
        load_config(cityscapes_yaml, [*ocr, "DATASET.NUM_CLASSES", "19"]), pretrained=False
    )
    checkpoint = tmp_path / "cityscapes_ocr.pth"
    torch.save({f"model.{k}": v for k, v in cityscapes.state_dict().items()}, checkpoint)
    out = train_one_epoch(
        tmp_path, "urbanisation", 7, "list/urbanisation/train.lst", "list/urbanisation/val.lst",
        *ocr, "MODEL.PRETRAINED", str(checkpoint),
        "MODEL.FINETUNE_REINIT", "['cls_head', 'aux_head.3']", "TRAIN.IGNORE_LABEL", "-1",
    )  # fmt: skip
    assert (out / "final_state.pth").is_file()
    log = next(out.glob("tiny_*_train.log")).read_text()
    assert "re-initialised 4 (MODEL.FINETUNE_REINIT ['cls_head', 'aux_head.3'])" in log
