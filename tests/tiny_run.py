"""A tiny dataset in the generic `custom` layout and a tiny HRNet YAML, for end-to-end tests."""

import textwrap

import pytest
import torch

import models
from config import load_config
from datasets.demo_data import write_demo_dataset

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


TINY_OCR = ["MODEL.OCR.MID_CHANNELS", "16", "MODEL.OCR.KEY_CHANNELS", "8"]
# A Lite-HRNet YAML narrowed: stem, modules, blocks and widths of every stage.
TINY_LITE = [
    "MODEL.EXTRA.stem.stem_channels", "8",
    "MODEL.EXTRA.stem.out_channels", "8",
    "MODEL.EXTRA.stages_spec.num_modules", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_blocks", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_channels", "[[8, 16], [8, 16, 32], [8, 16, 32, 64]]",
]  # fmt: skip


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


def spread_weights(model):
    """Kaiming-initialise every convolution: HRNet's own init (std 0.001) predicts one class
    everywhere, which would make prediction comparisons trivial."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)
    return model.eval()


def write_tiny_model(folder, num_classes=5):
    """(YAML file, weights file) of a tiny random seg_hrnet whose predictions vary."""
    cfg_file = folder / "tiny.yaml"
    cfg_file.write_text(f"DATASET: {{NUM_CLASSES: {num_classes}, COLOR_MAP: ''}}\n" + TINY_MODEL)
    torch.manual_seed(0)
    model = spread_weights(models.build_model(load_config(cfg_file), pretrained=False))
    weights = folder / "final_state.pth"
    torch.save(model.state_dict(), weights)
    return cfg_file, weights


def export_tiny_onnx(cfg_file, weights, path, size=None):
    """The tiny model of `cfg_file` with `weights` exported to ONNX at `size` (H, W; None:
    dynamic height and width)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import deploy

    model = models.build_model(load_config(cfg_file), pretrained=False)
    models.load_weights(model, weights)
    deploy.export_onnx(model.eval(), path, size or (32, 48), dynamic=size is None)
    return path


TINY_MODEL = """
MODEL:
  NAME: seg_hrnet
  ALIGN_CORNERS: false
  BN_MOMENTUM: 0.1
  PRETRAINED: ''
  EXTRA:
    FINAL_CONV_KERNEL: 1
    STAGE1: {NUM_MODULES: 1, NUM_RANCHES: 1, BLOCK: BOTTLENECK, NUM_BLOCKS: [1], NUM_CHANNELS: [8], FUSE_METHOD: SUM}
    STAGE2: {NUM_MODULES: 1, NUM_BRANCHES: 2, BLOCK: BASIC, NUM_BLOCKS: [1, 1], NUM_CHANNELS: [4, 8], FUSE_METHOD: SUM}
    STAGE3: {NUM_MODULES: 1, NUM_BRANCHES: 3, BLOCK: BASIC, NUM_BLOCKS: [1, 1, 1], NUM_CHANNELS: [4, 8, 16], FUSE_METHOD: SUM}
    STAGE4: {NUM_MODULES: 1, NUM_BRANCHES: 4, BLOCK: BASIC, NUM_BLOCKS: [1, 1, 1, 1], NUM_CHANNELS: [4, 8, 16, 32], FUSE_METHOD: SUM}
"""  # noqa: E501


def write_tiny_run(tmp_path, num_train=8, num_val=3, size=32, identical=False, **train):
    """Write data and `tiny.yaml` under tmp_path; returns the YAML path.

    `identical` makes every training image the same picture (for batch-composition tests).
    `train` overrides TRAIN keys, e.g. END_EPOCH=2.
    """
    root = write_demo_dataset(tmp_path / "data", num_train, num_val, size, seed=3)
    if identical:
        lines = (root / "train.lst").read_text().split("\n")
        first = lines[0]
        (root / "train.lst").write_text("\n".join(first for line in lines if line) + "\n")
    settings = {
        "IMAGE_SIZE": [size, size],
        "BASE_SIZE": size,
        "BATCH_SIZE_PER_GPU": 2,
        "END_EPOCH": 1,
        "LR": 0.01,
        "MULTI_SCALE": True,
        "FLIP": True,
        "SCALE_FACTOR": 10,
        "IGNORE_LABEL": 255,
        **train,
    }
    train_yaml = "\n".join(f"  {k}: {v}" for k, v in settings.items())
    text = textwrap.dedent(f"""
        OUTPUT_DIR: {tmp_path / "output"}
        LOG_DIR: {tmp_path / "log"}
        WORKERS: 0
        PRINT_FREQ: 1
        DATASET:
          DATASET: custom
          ROOT: {root}
          COLOR_MAP: {root / "colorMap.txt"}
          TRAIN_SET: train.lst
          TEST_SET: val.lst
          NUM_CLASSES: 4
        TEST:
          IMAGE_SIZE: [{size}, {size}]
          BASE_SIZE: {size}
          BATCH_SIZE_PER_GPU: 2
        """)
    text += TINY_MODEL + "TRAIN:\n" + train_yaml + "\n"
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


def output_dir(tmp_path):
    return tmp_path / "output" / "custom" / "tiny"
