"""README "Extending": a new head and a new export format are one module each plus their
registration (a new dataset: tests/datasets/test_new_dataset.py; a new LR schedule:
tests/core/test_lr_schedule.py)."""

from pathlib import Path

import torch
from torch import nn

import deploy
import inference
import models
from deploy.formats import _FORMATS, ExportFormat, register_format
from helpers.model_specs import tiny_config
from inference.exported import _LOADERS, ExportLoader, register_loader
from models.hrnet import HighResolutionNet, concat_branches, init_weights
from models.registry import register_model


class SegHRNetDeepHead(HighResolutionNet):
    """HRNetV2 with a 3x3 conv-BN-ReLU head: the README's example head."""

    def __init__(self, extra, num_classes, align_corners):
        super().__init__(extra, align_corners=align_corners)
        self.align_corners = align_corners
        channels = sum(self.out_channels)
        self.head = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, num_classes, 1),
        )
        init_weights(self)

    def forward(self, x):
        return self.head(concat_branches(super().forward(x), self.align_corners))


@register_model("test_seg_hrnet_deep_head")
def build_deep_head(cfg):
    return SegHRNetDeepHead(cfg.MODEL.EXTRA, cfg.DATASET.NUM_CLASSES, cfg.MODEL.ALIGN_CORNERS)


def test_a_new_head_is_built_by_its_name():
    cfg = tiny_config("test_seg_hrnet_deep_head", 3)
    model = models.build_model(cfg, pretrained=False).eval()
    assert isinstance(model, SegHRNetDeepHead)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 48)).shape == (1, 3, 8, 12)


def export_program(model, path, size, dynamic=False):
    """The README's example format: `torch.export`, fixed size."""
    program = torch.export.export(model.eval(), (torch.randn(1, 3, *size),))
    torch.export.save(program, str(path))


class ProgramModel(nn.Module):
    runtime = "torch.export"

    def __init__(self, path, device):
        super().__init__()
        program = torch.export.load(str(path))
        # exported at one size: (H, W), the window tools/test.py runs it on (None: any size)
        self.fixed_size = tuple(program.example_inputs[0][0].shape[2:])
        self.module = program.module().to(device)

    def forward(self, x):
        return self.module(x)


def test_a_new_export_format_exports_and_runs_through_load_model(tmp_path, monkeypatch):
    # registered for this test only, so the tests that list the formats see the usual ones
    monkeypatch.setattr(_LOADERS, "_entries", dict(_LOADERS._entries))
    monkeypatch.setattr(_FORMATS, "_entries", dict(_FORMATS._entries))
    loader = register_loader(
        ExportLoader(
            name="program",
            label="torch.export",
            load=ProgramModel,
            recognizes=lambda path: Path(path).suffix == ".pt2",
        )
    )
    register_format(ExportFormat("program", ".pt2", export_program, loader))
    cfg = tiny_config("seg_hrnet", 3)
    model = models.build_model(cfg, pretrained=False).eval()
    files = deploy.export_files(model, tmp_path / "model", (32, 48), formats=("program",))
    assert [(row, path.name) for row, path in files] == [("torch.export fp32", "model.pt2")]
    loaded = inference.load_model(cfg, files[0][1])
    assert isinstance(loaded, ProgramModel)
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert loaded.fixed_size == (32, 48)
    # what tools/export_onnx.py does after writing a file: load it again and compare
    (difference,) = deploy.report_parity(model, "torch.export fp32", files[0][1], (32, 48))
    assert difference["rel"] < 1e-5
