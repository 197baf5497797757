"""The tiny HRNet and the small Lite-HRNet the tests build, each spec defined once, as config
options (KEY VALUE lists) and as YAML text."""

from config import load_config
from helpers.paths import EXPERIMENTS


def tiny_hrnet(stage4_modules):
    """MODEL.EXTRA of a tiny HRNet: widths 4-32, one block per branch. The in-memory models of
    the model, inference and deployment tests have two stage-4 modules (TINY_EXTRA); the YAML
    the tools read has one (TINY_MODEL)."""
    return {
        "FINAL_CONV_KERNEL": 1,
        "STAGE1": {"NUM_MODULES": 1, "NUM_BRANCHES": 1, "BLOCK": "BOTTLENECK",
                   "NUM_BLOCKS": [1], "NUM_CHANNELS": [8]},
        "STAGE2": {"NUM_MODULES": 1, "NUM_BRANCHES": 2, "BLOCK": "BASIC",
                   "NUM_BLOCKS": [1, 1], "NUM_CHANNELS": [4, 8]},
        "STAGE3": {"NUM_MODULES": 1, "NUM_BRANCHES": 3, "BLOCK": "BASIC",
                   "NUM_BLOCKS": [1, 1, 1], "NUM_CHANNELS": [4, 8, 16]},
        "STAGE4": {"NUM_MODULES": stage4_modules, "NUM_BRANCHES": 4, "BLOCK": "BASIC",
                   "NUM_BLOCKS": [1, 1, 1, 1], "NUM_CHANNELS": [4, 8, 16, 32]},
    }  # fmt: skip


def _options(extra):
    opts = []
    for key, value in extra.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, v in items:
            opts += [".".join(k for k in ("MODEL.EXTRA", key, sub) if k), str(v)]
    return opts


def _yaml(extra):
    lines = [f"    FINAL_CONV_KERNEL: {extra['FINAL_CONV_KERNEL']}"]
    for stage in ("STAGE1", "STAGE2", "STAGE3", "STAGE4"):
        spec = {**extra[stage], "FUSE_METHOD": "SUM"}
        if stage == "STAGE1":  # spelled as in the released YAMLs (the value is never read)
            spec = {("NUM_RANCHES" if k == "NUM_BRANCHES" else k): v for k, v in spec.items()}
        lines.append(f"    {stage}: {{{', '.join(f'{k}: {v}' for k, v in spec.items())}}}")
    return "\n".join(lines)


TINY_EXTRA = _options(tiny_hrnet(stage4_modules=2))
TINY_OCR = ["MODEL.OCR.MID_CHANNELS", "16", "MODEL.OCR.KEY_CHANNELS", "8"]
TINY_MODEL = f"""
MODEL:
  NAME: seg_hrnet
  ALIGN_CORNERS: false
  BN_MOMENTUM: 0.1
  PRETRAINED: ''
  EXTRA:
{_yaml(tiny_hrnet(stage4_modules=1))}
"""

W18_SMALL_V1 = "cityscapes/seg_hrnet_w18_small_v1_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W18_SMALL_V2 = "cityscapes/seg_hrnet_w18_small_v2_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W48 = "cityscapes/seg_hrnet_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
OCR_W48 = "cityscapes/seg_hrnet_ocr_w48_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
LITE_18 = "cityscapes/seg_litehrnet_18_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
# Lite-HRNet-18 at a fraction of its width and depth (one block per stage); four branches.
LITE_SMALL = [
    "MODEL.EXTRA.stages_spec.num_modules", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_blocks", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_channels", "[[8, 16], [8, 16, 32], [8, 16, 32, 64]]",
]  # fmt: skip
# LITE_SMALL with a narrow stem too.
TINY_LITE = [
    "MODEL.EXTRA.stem.stem_channels",
    "8",
    "MODEL.EXTRA.stem.out_channels",
    "8",
    *LITE_SMALL,
]
# The fork's Lite-HRNet options: a HANet per branch after every stage, BN + ReLU on the logits.
LITE_FORK = ["MODEL.EXTRA.with_hanet", "True", "MODEL.EXTRA.logits_relu", "True"]


def tiny_config(name="seg_hrnet", num_classes=5, *opts):
    """A config of a tiny HRNet (or OCR) model, no files involved."""
    return load_config(
        None,
        [
            "MODEL.NAME",
            name,
            "DATASET.NUM_CLASSES",
            str(num_classes),
            *TINY_EXTRA,
            *TINY_OCR,
            *opts,
        ],
    )


def experiment(name, *opts):
    """Load experiments/<name> without its ImageNet file."""
    return load_config(EXPERIMENTS / name, ["MODEL.PRETRAINED", "", *opts])


def model_config(name, num_classes):
    """tiny_config for the HRNet family (seg_hrnet, seg_hrnet_ocr, seg_hrnet_hanet); for
    "seg_litehrnet" the small Lite-HRNet-18, for "seg_litehrnet_fork" the same with the fork's
    HANets and final ReLU (the released Lite-HRNet checkpoints' architecture)."""
    if name.startswith("seg_litehrnet"):
        fork = LITE_FORK if name == "seg_litehrnet_fork" else []
        return experiment(LITE_18, "DATASET.NUM_CLASSES", str(num_classes), *LITE_SMALL, *fork)
    return tiny_config(name, num_classes)
