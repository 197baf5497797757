"""load_model: a weights file in each PyTorch runtime, an export as exported."""

import logging

import pytest
import torch

import models
from config import load_config
from helpers.tiny_run import spread_weights, write_tiny_model
from inference import InferenceModel, TorchScriptModel, load_model, prepare_model
from utils.errors import CheckpointError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("loading"))


def test_weights_in_each_runtime(tiny):
    cfg_file, weights = tiny
    cfg = load_config(cfg_file)
    reference = models.build_model(cfg, pretrained=False)
    models.load_weights(reference, weights)
    reference.eval()
    x = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(x)
        eager = load_model(cfg, weights, "eager")
        assert not eager.training and not isinstance(eager, InferenceModel)
        assert torch.equal(eager(x), expected)
        exact = load_model(cfg, weights, "exact")
        assert isinstance(exact, InferenceModel) and exact.dtype is None
        assert torch.allclose(exact(x), expected, rtol=1e-4, atol=1e-4)
        fast = load_model(cfg, weights, "fast")
        assert isinstance(fast, InferenceModel) and fast.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="eager, exact, fast"):
        load_model(cfg, weights, "turbo")


def test_export_runs_as_exported(tiny, tmp_path, caplog):
    import deploy

    cfg_file, weights = tiny
    cfg = load_config(cfg_file)
    torch.manual_seed(0)
    model = spread_weights(models.build_model(cfg, pretrained=False)).eval()
    path = tmp_path / "m.torchscript.pt"
    deploy.export_torchscript(model, path, (32, 48))
    with caplog.at_level(logging.INFO):
        loaded = load_model(cfg, path, "exact")
    assert isinstance(loaded, TorchScriptModel) and loaded.fixed_size == (32, 48)
    assert "--exact is ignored for an exported model (TorchScript)" in caplog.text
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), rtol=1e-4, atol=1e-5)


def test_unreadable_onnx_file_is_a_checkpoint_error(tiny, tmp_path):
    pytest.importorskip("onnxruntime")
    import deploy

    cfg_file, weights = tiny
    cfg = load_config(cfg_file)
    model = models.build_model(cfg, pretrained=False)
    models.load_weights(model, weights)
    exported = tmp_path / "m.onnx"
    deploy.export_onnx(model.eval(), exported, (32, 48))
    text, truncated = tmp_path / "x.onnx", tmp_path / "half.onnx"
    text.write_text("not a model\n")
    truncated.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    for path in (text, truncated):
        with pytest.raises(CheckpointError) as error:
            load_model(cfg, path)
        assert str(error.value) == (
            f"{path} cannot be read as an ONNX model: Protobuf parsing failed."
        )


def test_prepare_model_keeps_the_original(tiny):
    cfg_file, weights = tiny
    model = models.build_model(load_config(cfg_file), pretrained=False).train()
    norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    prepared = prepare_model(model, "exact")
    assert isinstance(prepared, InferenceModel) and not model.training
    # a copy is folded: the model keeps its BatchNorms
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == norms > 0
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in prepared.modules())
    assert prepare_model(model.train(), "eager") is model and not model.training
