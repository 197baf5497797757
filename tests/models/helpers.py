"""Small configurations shared by model tests."""

import json

from conftest import EXPERIMENTS, TEST_DATA
from tiny_run import TINY_EXTRA, tiny_config  # noqa: F401  (re-exported for model tests)

from config import load_config

W18_SMALL_V1 = "cityscapes/seg_hrnet_w18_small_v1_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W18_SMALL_V2 = "cityscapes/seg_hrnet_w18_small_v2_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W48 = "cityscapes/seg_hrnet_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
OCR_W48 = "cityscapes/seg_hrnet_ocr_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"


def experiment(name, *opts):
    """Load experiments/<name> without its ImageNet file."""
    return load_config(EXPERIMENTS / name, ["MODEL.PRETRAINED", "", *opts])


def manifest(name):
    return json.loads((TEST_DATA / f"{name}.json").read_text())
