"""Small configurations shared by model tests."""

import json

from conftest import EXPERIMENTS, TEST_DATA

from config import load_config

TINY_EXTRA = [
    "MODEL.EXTRA.FINAL_CONV_KERNEL", "1",
    "MODEL.EXTRA.STAGE1.NUM_MODULES", "1",
    "MODEL.EXTRA.STAGE1.NUM_BRANCHES", "1",
    "MODEL.EXTRA.STAGE1.BLOCK", "BOTTLENECK",
    "MODEL.EXTRA.STAGE1.NUM_BLOCKS", "[1]",
    "MODEL.EXTRA.STAGE1.NUM_CHANNELS", "[8]",
    "MODEL.EXTRA.STAGE2.NUM_MODULES", "1",
    "MODEL.EXTRA.STAGE2.NUM_BRANCHES", "2",
    "MODEL.EXTRA.STAGE2.BLOCK", "BASIC",
    "MODEL.EXTRA.STAGE2.NUM_BLOCKS", "[1, 1]",
    "MODEL.EXTRA.STAGE2.NUM_CHANNELS", "[4, 8]",
    "MODEL.EXTRA.STAGE3.NUM_MODULES", "1",
    "MODEL.EXTRA.STAGE3.NUM_BRANCHES", "3",
    "MODEL.EXTRA.STAGE3.BLOCK", "BASIC",
    "MODEL.EXTRA.STAGE3.NUM_BLOCKS", "[1, 1, 1]",
    "MODEL.EXTRA.STAGE3.NUM_CHANNELS", "[4, 8, 16]",
    "MODEL.EXTRA.STAGE4.NUM_MODULES", "2",
    "MODEL.EXTRA.STAGE4.NUM_BRANCHES", "4",
    "MODEL.EXTRA.STAGE4.BLOCK", "BASIC",
    "MODEL.EXTRA.STAGE4.NUM_BLOCKS", "[1, 1, 1, 1]",
    "MODEL.EXTRA.STAGE4.NUM_CHANNELS", "[4, 8, 16, 32]",
]  # fmt: skip

W18_SMALL_V1 = "cityscapes/seg_hrnet_w18_small_v1_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W18_SMALL_V2 = "cityscapes/seg_hrnet_w18_small_v2_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W48 = "cityscapes/seg_hrnet_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
OCR_W48 = "cityscapes/seg_hrnet_ocr_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"


def experiment(name, *opts):
    """Load experiments/<name> without its ImageNet file."""
    return load_config(EXPERIMENTS / name, ["MODEL.PRETRAINED", "", *opts])


def tiny_config(name="seg_hrnet", num_classes=5, *opts):
    extra = ["MODEL.OCR.MID_CHANNELS", "16", "MODEL.OCR.KEY_CHANNELS", "8"]
    return load_config(
        None,
        ["MODEL.NAME", name, "DATASET.NUM_CLASSES", str(num_classes), *TINY_EXTRA, *extra, *opts],
    )


def manifest(name):
    return json.loads((TEST_DATA / f"{name}.json").read_text())
