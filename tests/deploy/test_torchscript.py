"""TorchScript export (torch.jit.trace): parity with PyTorch, fixed / dynamic sizes, recognition
of TorchScript files among weights files, and the export-format registry."""

import pytest
import torch

import deploy
import inference
from helpers.trained_models import smooth_input, tiny_model
from utils.errors import ConfigError

NUM_CLASSES = 5
SIZE = (64, 96)


@pytest.mark.parametrize(
    "name", ["seg_hrnet", "seg_hrnet_ocr", "seg_hrnet_hanet", "seg_litehrnet_fork"]
)
def test_trace_matches_pytorch_within_1e4(tmp_path, name):
    model = tiny_model(name, NUM_CLASSES, steps=12 if name == "seg_hrnet" else 0)
    path = tmp_path / "model.torchscript.pt"
    deploy.export_torchscript(model, path, SIZE)
    traced = deploy.get_format("torchscript").load(path, "cpu")
    differences = deploy.compare_outputs(model, traced, smooth_input(2, *SIZE, seed=7))
    assert len(differences) == (2 if name == "seg_hrnet_ocr" else 1)
    assert all(d["rel"] <= 1e-4 for d in differences)
    with torch.no_grad():
        outputs = traced(smooth_input(1, *SIZE))
    assert isinstance(outputs, list) == (name == "seg_hrnet_ocr")  # as the model returns
    assert traced.fixed_size == SIZE
    assert traced.runtime == "TorchScript (cpu)"


def test_fixed_size_trace_names_its_size_dynamic_takes_any(tmp_path):
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    fixed, dynamic = tmp_path / "fixed.torchscript.pt", tmp_path / "dynamic.torchscript.pt"
    deploy.export_torchscript(model, fixed, SIZE)
    deploy.export_torchscript(model, dynamic, SIZE, dynamic=True)
    with pytest.raises(ConfigError, match="exported for 64x96 input, got 96x64"):
        inference.TorchScriptModel(fixed)(torch.zeros(1, 3, 96, 64))
    traced = inference.TorchScriptModel(dynamic)
    assert traced.fixed_size is None
    for size in [(96, 64), (97, 131)]:
        [difference] = deploy.compare_outputs(model, traced, smooth_input(1, *size))
        assert difference["rel"] <= 1e-4


def test_trace_without_our_metadata_takes_any_size(tmp_path):
    """A file traced elsewhere (the forks' `torch.jit.trace(...).save(...)`) runs at any size."""
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    path = tmp_path / "traced_hrnet_model.pt"
    with pytest.warns(DeprecationWarning):
        torch.jit.trace(model, smooth_input(1, *SIZE)).save(str(path))
    assert deploy.format_of(path).name == "torchscript"
    traced = inference.TorchScriptModel(path)
    assert traced.fixed_size is None
    [difference] = deploy.compare_outputs(model, traced, smooth_input(1, 96, 64))
    assert difference["rel"] <= 1e-4


def test_files_are_recognised_by_content_or_suffix(tmp_path):
    model = tiny_model("seg_hrnet", NUM_CLASSES, steps=0)
    traced, weights = tmp_path / "model.pt", tmp_path / "weights.pt"
    deploy.export_torchscript(model, traced, SIZE)
    torch.save(model.state_dict(), weights)
    (tmp_path / "text.pt").write_text("not a zip")
    assert deploy.format_of(traced).name == "torchscript"
    assert deploy.format_of(weights) is None  # a torch.save file is weights, not an export
    assert deploy.format_of(tmp_path / "text.pt") is None
    assert deploy.format_of(tmp_path / "model.onnx").name == "onnx"


def test_export_paths_swap_the_format_suffix():
    onnx, torchscript = deploy.get_format("onnx"), deploy.get_format("torchscript")
    assert deploy.export_path("out/m.onnx", torchscript).as_posix() == "out/m.torchscript.pt"
    assert deploy.export_path("out/m.torchscript.pt", onnx).as_posix() == "out/m.onnx"
    assert deploy.export_path("out/m.onnx", onnx).as_posix() == "out/m.onnx"
    assert deploy.export_path("out/m", torchscript).as_posix() == "out/m.torchscript.pt"
    assert deploy.without_suffix("out/m.torchscript.pt").as_posix() == "out/m"
    assert deploy.format_names() == ["onnx", "torchscript"]
    with pytest.raises(ConfigError, match="unknown --format 'tflite'; known export formats: onnx"):
        deploy.get_format("tflite")
