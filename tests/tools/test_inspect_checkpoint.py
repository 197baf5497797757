"""tools/inspect_checkpoint.py: the YAML and the tools/test.py command it prints for a trained
file run as printed; ONNX files get inputs, outputs, opset and precision."""

import shlex
import sys

import pytest
import torch

import models
from config import load_config
from helpers.tiny_run import write_tiny_run
from helpers.tools import load_tool
from utils.cli import run_tool

inspect_checkpoint = load_tool("inspect_checkpoint")
test_tool = load_tool("test")


def test_the_printed_test_command_runs_the_file(tmp_path, capsys, monkeypatch):
    cfg_file = write_tiny_run(tmp_path, num_val=2, size=32)
    model = models.build_model(load_config(cfg_file))
    weights = tmp_path / "best.pth"
    torch.save({f"model.{k}": v for k, v in model.state_dict().items()}, weights)
    monkeypatch.chdir(tmp_path)
    assert inspect_checkpoint.main([str(weights), "--experiments", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "layout:  `model.` prefix (FullModel" in out
    assert "model:   HRNetV2, width 4 (branches 4, 8, 16, 32), 4 classes" in out
    assert "fits key for key 1 experiment YAML(s):\n  tiny.yaml   MODEL.ALIGN_CORNERS False" in out
    command = shlex.split(out.split("test it:\n", 1)[1].strip())
    assert command[:5] == ["python", "tools/test.py", "--cfg", "tiny.yaml", "TEST.MODEL_FILE"]
    assert test_tool.main(["--device", "cpu", *command[2:]]) == 0


def test_a_missing_file_is_one_error_line(tmp_path, capsys):
    assert run_tool(inspect_checkpoint.main, [str(tmp_path / "nowhere.pth")]) == 2
    assert (
        capsys.readouterr().err
        == f"error: weights file {tmp_path / 'nowhere.pth'} does not exist\n"
    )


def test_onnx_without_onnx_installed_says_what_to_install(tmp_path, capsys, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "deploy.onnx_info", None)  # import fails as without onnx
    assert run_tool(inspect_checkpoint.main, [str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "pip install -r requirements-deploy.txt" in err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        inspect_checkpoint.parse_args(["--help"])
    assert exit_.value.code == 0
    assert "\n  python tools/inspect_checkpoint.py hrnet_ocr" in capsys.readouterr().out


def test_onnx_files_show_inputs_outputs_opset_and_precision(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import deploy

    model = models.build_model(load_config(write_tiny_run(tmp_path, num_train=2, num_val=1)))
    fp32, fp16, int8 = (tmp_path / f"m_{kind}.onnx" for kind in ("fp32", "fp16", "int8"))
    deploy.export_onnx(model.eval(), fp32, (32, 48), dynamic=True)
    deploy.convert_fp16(fp32, fp16)
    deploy.quantize_int8(fp32, int8, [torch.randn(1, 3, 32, 48).numpy()])
    assert inspect_checkpoint.main([str(fp32), str(fp16), str(int8)]) == 0
    reports = capsys.readouterr().out.split("\n\n")
    assert len(reports) == 3
    for report, kind in zip(reports, ("fp32", "fp16", "int8"), strict=True):
        assert f"precision: {kind} (" in report
        assert "opset:     17\n" in report
        assert "  image: float [batch, 3, height, width]" in report
        assert "  logits: float [batch, 4, " in report  # int8: the sizes as formulas
    assert "QuantizeLinear" in reports[2] and "float16" in reports[1]


def test_torchscript_exports_show_their_size_whatever_their_name(tmp_path, capsys):
    import deploy

    model = models.build_model(load_config(write_tiny_run(tmp_path, num_train=2, num_val=1)))
    fixed, dynamic = tmp_path / "fixed.pth", tmp_path / "m.torchscript.pt"
    deploy.export_torchscript(model.eval(), fixed, (32, 48))
    deploy.export_torchscript(model.eval(), dynamic, (32, 48), dynamic=True)
    assert inspect_checkpoint.main([str(fixed), str(dynamic)]) == 0
    fixed_report, dynamic_report = capsys.readouterr().out.split("\n\n")
    assert "format:    TorchScript" in fixed_report
    assert "input:     traced at 32x48, fixed size" in fixed_report
    assert "input:     traced at 32x48, any input size" in dynamic_report
    assert f"TEST.MODEL_FILE {dynamic}" in dynamic_report
