"""Tiny runs on disk for end-to-end tests: a dataset in the generic `custom` layout with the tiny
HRNet YAML (helpers.model_specs.TINY_MODEL), and tiny model files (YAML, weights, ONNX)."""

import textwrap

import pytest
import torch

import models
from config import load_config
from datasets.demo_data import write_demo_dataset
from helpers.model_specs import TINY_MODEL


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
