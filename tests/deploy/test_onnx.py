"""ONNX export parity, fp16 / int8 variants, and their evaluation with the PyTorch code path."""

import cv2
import numpy as np
import pytest
import torch

from helpers.model_specs import tiny_config
from helpers.trained_models import smooth_input, tiny_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import datasets  # noqa: E402
import deploy  # noqa: E402
import inference  # noqa: E402
import models  # noqa: E402
from helpers.tools import load_tool  # noqa: E402
from utils.errors import CheckpointError, ConfigError  # noqa: E402
from utils.metrics import segmentation_scores  # noqa: E402

export_onnx = load_tool("export_onnx")

NUM_CLASSES = 5
SIZE = (64, 96)


def evaluate_scores(model, cfg, loader):
    """`inference.evaluate`'s scores of `model` on the labelled `loader`."""
    return segmentation_scores(inference.evaluate(cfg, model, loader=loader))


def labelled_images(model, count=3, seed=100):
    """uint8 RGB images (1, 3, H, W) like the tiny models' training input, labelled (1, H, W)
    with `model`'s own prediction: a variant's pixel accuracy is its agreement with it."""
    std, mean = (
        torch.tensor(v).view(3, 1, 1) for v in (datasets.IMAGENET_STD, datasets.IMAGENET_MEAN)
    )
    predictor = inference.Predictor.from_config(evaluation_config(), model, "cpu")
    samples = []
    for i in range(count):
        x = smooth_input(1, *SIZE, seed + i)
        image = ((x * std + mean) * 255).clamp(0, 255).round().to(torch.uint8)
        samples.append((image, predictor(datasets.normalize(image)).argmax(1)))
    return samples


def evaluation_config():
    """The tiny seg_hrnet, predicted at the image size with flip."""
    return tiny_config(
        "seg_hrnet",
        NUM_CLASSES,
        "TRAIN.IGNORE_LABEL", "255",
        "TEST.IMAGE_SIZE", f"{SIZE[1]},{SIZE[0]}",
        "TEST.BASE_SIZE", str(max(SIZE)),
        "TEST.FLIP_TEST", "True",
    )  # fmt: skip


@pytest.mark.parametrize("name", ["seg_hrnet", "seg_hrnet_ocr"])
@pytest.mark.parametrize("dynamic", [False, True])
def test_fp32_export_matches_pytorch(tmp_path, name, dynamic):
    model = tiny_model(name, NUM_CLASSES, steps=0)
    path = tmp_path / "model.onnx"
    names = deploy.export_onnx(model, path, SIZE, dynamic=dynamic)
    assert names == (["output0", "logits"] if name == "seg_hrnet_ocr" else ["logits"])
    onnx_model = inference.OnnxModel(path, spinning=not dynamic)
    options = onnx_model.session.get_session_options()
    if dynamic:  # threads that sleep between runs compute the same
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    for size in [SIZE, (96, 64)] if dynamic else [SIZE]:
        for difference in deploy.compare_outputs(model, onnx_model, smooth_input(2, *size)):
            assert difference["rel"] <= 1e-4


@pytest.mark.parametrize("name", ["seg_litehrnet_fork", "seg_hrnet_hanet"])
@pytest.mark.parametrize(("size", "dynamic"), [(SIZE, False), ((97, 131), False), (SIZE, True)])
def test_adaptive_pooling_models_export(tmp_path, name, size, dynamic):
    """Lite-HRNet pools every branch to the smallest one's size, HANet pools rows to 16 (the
    fork's Lite-HRNet does both): exact at fixed sizes, dividing or not, and dynamic."""
    model = tiny_model(name, NUM_CLASSES, steps=0)
    path = tmp_path / "model.onnx"
    assert deploy.export_onnx(model, path, size, dynamic=dynamic) == ["logits"]
    onnx_model = inference.OnnxModel(path)
    for other in [size, (96, 64), (97, 131), (40, 200)] if dynamic else [size]:
        for difference in deploy.compare_outputs(model, onnx_model, smooth_input(2, *other)):
            assert difference["rel"] <= 1e-4


def test_fixed_size_export_names_its_size_on_other_input(tmp_path):
    path = tmp_path / "model.onnx"
    deploy.export_onnx(tiny_model("seg_hrnet", NUM_CLASSES, steps=0), path, SIZE)
    with pytest.raises(ConfigError, match="exported for 64x96 input, got 96x64"):
        inference.OnnxModel(path)(torch.zeros(1, 3, 96, 64))


def test_fixed_size_export_makes_its_size_the_window(tmp_path):
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    fixed, dynamic = tmp_path / "fixed.onnx", tmp_path / "dynamic.onnx"
    deploy.export_onnx(model, fixed, SIZE)
    deploy.export_onnx(model, dynamic, SIZE, dynamic=True)
    cfg = evaluation_config()
    other = cfg.clone()
    other.defrost()
    other.TEST.IMAGE_SIZE = [40, 40]
    other.freeze()
    window = inference.export_window(other, inference.OnnxModel(fixed))
    assert list(window.TEST.IMAGE_SIZE) == [96, 64]
    assert list(other.TEST.IMAGE_SIZE) == [40, 40]  # a copy: the caller's config is unchanged
    assert inference.export_window(cfg, inference.OnnxModel(fixed)) is cfg
    assert inference.export_window(other, inference.OnnxModel(dynamic)) is other
    assert inference.export_window(other, model) is other

    samples = labelled_images(model, count=2)
    loader = [(image, label, [SIZE], [f"{i}"]) for i, (image, label) in enumerate(samples)]
    scores = evaluate_scores(inference.OnnxModel(fixed), other, loader)
    assert scores["pixel_acc"] == pytest.approx(1.0, abs=1e-3)  # predicted with a 64x96 window


def test_int8_and_fp16_are_evaluated_by_the_pytorch_code(tmp_path):
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    fp32, fp16, int8 = (tmp_path / f"{n}.onnx" for n in ("fp32", "fp16", "int8"))
    deploy.export_onnx(model, fp32, SIZE)
    deploy.convert_fp16(fp32, fp16)
    calibration = [smooth_input(1, *SIZE, seed).numpy() for seed in range(8)]
    deploy.quantize_int8(fp32, int8, calibration)
    assert not list(tmp_path.glob("*.prep.onnx"))

    samples = labelled_images(model)
    loader = [(image, label, [SIZE], [f"{i}"]) for i, (image, label) in enumerate(samples)]
    cfg = evaluation_config()
    scores = {"torch": evaluate_scores(model, cfg, loader)}
    for path in (fp32, fp16, int8):
        scores[path.stem] = evaluate_scores(inference.OnnxModel(path), cfg, loader)
    assert scores["torch"]["pixel_acc"] == 1.0
    assert scores["fp32"]["mIoU"] == pytest.approx(scores["torch"]["mIoU"], abs=1e-3)
    assert scores["fp16"]["pixel_acc"] >= 0.99
    assert scores["int8"]["pixel_acc"] >= 0.9
    assert deploy.latency_ms(inference.OnnxModel(int8), torch.zeros(1, 3, *SIZE), 2, 1) > 0


def test_litehrnet_converts_to_fp16_and_int8(tmp_path):
    model = tiny_model("seg_litehrnet", NUM_CLASSES)
    fp32, fp16, int8 = (tmp_path / f"{n}.onnx" for n in ("fp32", "fp16", "int8"))
    deploy.export_onnx(model, fp32, SIZE)
    deploy.convert_fp16(fp32, fp16)
    deploy.quantize_int8(fp32, int8, [smooth_input(1, *SIZE, seed).numpy() for seed in range(8)])
    x = smooth_input(2, *SIZE, 100)
    with torch.no_grad():
        expected = model(x).argmax(1)
    same = {
        path.stem: (inference.OnnxModel(path)(x).argmax(1) == expected).float().mean()
        for path in (fp16, int8)
    }
    assert same["fp16"] >= 0.99
    assert same["int8"] >= 0.8  # 0.90: depthwise convolutions and sigmoid gates quantise worse


def graph_of(path):
    return onnx.load(str(path)).graph


def opset_of(path):
    return next(o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx"))


def test_opset_and_tensor_names_as_the_zoo_exported(tmp_path):
    """The zoo's export: opset 10, input `input`, output `output`, of a model with
    MODEL.ALIGN_CORNERS False (the v1.1 recipes). It exports, but ONNX's Resize before opset 11
    upsamples without half-pixel coordinates: far from PyTorch, unlike the same at opset 11."""
    trained = tiny_model("seg_hrnet", NUM_CLASSES)
    model = models.build_model(
        tiny_config("seg_hrnet", NUM_CLASSES, "MODEL.ALIGN_CORNERS", "False"), pretrained=False
    ).eval()
    model.load_state_dict(trained.state_dict())
    x = smooth_input(2, *SIZE, 100)
    relative = {}
    for opset in (10, 11):
        path = tmp_path / f"opset{opset}.onnx"
        names = deploy.export_onnx(
            model, path, SIZE, opset=opset, input_name="input", output_names=["output"]
        )
        assert names == ["output"]
        graph = graph_of(path)
        assert [i.name for i in graph.input] == ["input"]
        assert [o.name for o in graph.output] == ["output"]
        assert opset_of(path) == opset
        [difference] = deploy.compare_outputs(model, inference.OnnxModel(path), x)
        relative[opset] = difference["rel"]
    assert relative[11] <= 1e-4 < 1e-2 < relative[10]


def test_output_names_must_match_the_outputs(tmp_path):
    model = tiny_model("seg_hrnet_ocr", NUM_CLASSES, steps=0)
    with pytest.raises(ConfigError, match=r"the model has 2 outputs \(OCR: aux, main\); give 2"):
        deploy.export_onnx(model, tmp_path / "m.onnx", SIZE, output_names=["output"])
    path = tmp_path / "ocr.onnx"
    deploy.export_onnx(model, path, SIZE, output_names=["aux", "output"])
    assert [o.name for o in graph_of(path).output] == ["aux", "output"]


@pytest.mark.parametrize(
    ("name", "opset", "operator"),
    [
        ("seg_hrnet", 10, "upsample_bilinear2d, align_corners == True"),  # tiny: align True
        ("seg_litehrnet", 10, "prim::ConstantChunk"),
        ("seg_hrnet", 8, "upsample_bilinear2d"),
    ],
)
def test_too_low_opset_is_one_clear_error(tmp_path, capfd, name, opset, operator):
    model = tiny_model(name, NUM_CLASSES, steps=0)
    with pytest.raises(ConfigError) as error:
        deploy.export_onnx(model, tmp_path / "m.onnx", SIZE, opset=opset)
    message = str(error.value)
    assert message.startswith(f"ONNX opset {opset} cannot export this model:")
    assert operator in message and message.endswith("Our models export from opset 11 on")
    assert "\n" not in message
    assert "graph" not in capfd.readouterr().out  # torch's dump of the whole graph is dropped


def test_opset_outside_the_exporters_range_is_a_config_error(tmp_path):
    model = tiny_model("seg_hrnet", NUM_CLASSES, steps=0)
    for opset in (6, 21):
        with pytest.raises(ConfigError, match=f"ONNX opset {opset}: the exporter writes opsets 7"):
            deploy.export_onnx(model, tmp_path / "m.onnx", SIZE, opset=opset)


@pytest.fixture(scope="module")
def fp32_export(tmp_path_factory):
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    path = tmp_path_factory.mktemp("fp32") / "fp32.onnx"
    deploy.export_onnx(model, path, SIZE)
    return model, path


def calibration():
    return [smooth_input(1, *SIZE, seed).numpy() for seed in range(8)]


def activation_scales(path):
    """{tensor: scale} of the activations' QuantizeLinear nodes (weights have none in QDQ)."""
    graph = graph_of(path)
    values = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    return {
        node.input[0]: float(values[node.input[1]])
        for node in graph.node
        if node.op_type == "QuantizeLinear"
    }


def test_each_calibration_method_gives_a_working_int8_model(tmp_path, fp32_export):
    model, fp32 = fp32_export
    x = smooth_input(2, *SIZE, 100)
    with torch.no_grad():
        expected = model(x).argmax(1)
    scales = {}
    for method in deploy.CALIBRATION_METHODS:
        path = tmp_path / f"{method}.onnx"
        deploy.quantize_int8(fp32, path, calibration(), method=method)
        assert (inference.OnnxModel(path)(x).argmax(1) == expected).float().mean() >= 0.9
        scales[method] = activation_scales(path)
    assert scales["minmax"].keys() == scales["entropy"].keys() == scales["percentile"].keys()
    for method in ("entropy", "percentile"):  # other ranges than min/max for some activations
        assert any(
            abs(scale - scales["minmax"][tensor]) > 1e-3 * scale
            for tensor, scale in scales[method].items()
        )
    with pytest.raises(ConfigError, match="calibration method 'kl'; expected one of minmax"):
        deploy.quantize_int8(fp32, tmp_path / "kl.onnx", calibration(), method="kl")


def weight_scales(path):
    """(output channels, shape of the scale) of every quantised convolution weight (the
    4-dimensional initializers that a DequantizeLinear reads)."""
    graph = graph_of(path)
    values = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
    return [
        (values[node.input[0]].shape[0], values[node.input[1]].shape)
        for node in graph.node
        if node.op_type == "DequantizeLinear" and values.get(node.input[0], np.empty(0)).ndim == 4
    ]


def test_per_channel_weights_have_a_scale_per_output_channel(tmp_path, fp32_export):
    model, fp32 = fp32_export
    per_channel, per_tensor = tmp_path / "channel.onnx", tmp_path / "tensor.onnx"
    deploy.quantize_int8(fp32, per_channel, calibration(), per_channel=True)
    deploy.quantize_int8(fp32, per_tensor, calibration(), per_channel=False)
    convolutions = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    scales = weight_scales(per_channel)
    assert len(scales) == convolutions
    assert all(shape == (channels,) for channels, shape in scales)
    assert [shape for _, shape in weight_scales(per_tensor)] == [()] * convolutions
    x = smooth_input(2, *SIZE, 100)
    with torch.no_grad():
        expected = model(x).argmax(1)
    assert (inference.OnnxModel(per_tensor)(x).argmax(1) == expected).float().mean() >= 0.9


def test_int8_needs_opset_11_per_channel_13(tmp_path, fp32_export):
    model, _ = fp32_export
    opset11 = tmp_path / "opset11.onnx"
    deploy.export_onnx(model, opset11, SIZE, opset=11)
    with pytest.raises(ConfigError, match="opset 11; per-channel int8 needs opset 13 or later"):
        deploy.quantize_int8(opset11, tmp_path / "q.onnx", calibration())
    deploy.quantize_int8(opset11, tmp_path / "q.onnx", calibration(), per_channel=False)
    assert inference.OnnxModel(tmp_path / "q.onnx")(smooth_input(1, *SIZE)).shape[1] == NUM_CLASSES
    aligned = models.build_model(
        tiny_config("seg_hrnet", NUM_CLASSES, "MODEL.ALIGN_CORNERS", "False"), pretrained=False
    )
    opset10 = tmp_path / "opset10.onnx"
    deploy.export_onnx(aligned.eval(), opset10, SIZE, opset=10)
    with pytest.raises(ConfigError, match="opset 10; int8 needs opset 11 or later"):
        deploy.quantize_int8(opset10, tmp_path / "q10.onnx", calibration(), per_channel=False)


def write_dataset(root, model):
    """A `custom` dataset: colorMap.txt, PNG images and raw-id labels, train / val lists."""
    (root / "colorMap.txt").write_text(
        "".join(f"class{k} {k} {40 * k} {40 * k} {40 * k}\n" for k in range(NUM_CLASSES))
    )
    lines = []
    for i, (image, label) in enumerate(labelled_images(model, 4)):
        for folder in ("images", "labels"):
            (root / folder).mkdir(exist_ok=True)
        bgr = image[0].permute(1, 2, 0).numpy()[..., ::-1]
        cv2.imwrite(str(root / f"images/{i}.png"), np.ascontiguousarray(bgr))
        cv2.imwrite(str(root / f"labels/{i}.png"), label[0].numpy().astype(np.uint8))
        lines.append(f"images/{i}.png labels/{i}.png\n")
    (root / "train.lst").write_text("".join(lines[:2]))
    (root / "val.lst").write_text("".join(lines[2:]))


def dataset_options(root):
    return [
        "DATASET.DATASET", "custom",
        "DATASET.ROOT", str(root),
        "DATASET.COLOR_MAP", str(root / "colorMap.txt"),
        "DATASET.TRAIN_SET", "train.lst",
        "DATASET.TEST_SET", "val.lst",
        "WORKERS", "0",
    ]  # fmt: skip


def table_rows(text):
    """The cells of each row of the Markdown table in `text`, header first."""
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows]


def test_command_exports_quantises_and_prints_the_table(tmp_path, capsys):
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    write_dataset(tmp_path, model)
    torch.save(model.state_dict(), tmp_path / "model.pth")
    (tmp_path / "tiny.yaml").write_text(evaluation_config().dump())
    output = tmp_path / "out" / "tiny.onnx"
    export_onnx.main(
        [
            "--cfg", str(tmp_path / "tiny.yaml"),
            "--pth", str(tmp_path / "model.pth"),
            "--output", str(output),
            "--fp16", "--int8", "--calib-count", "2", "--evaluate", "--repeats", "1",
            *dataset_options(tmp_path),
        ]
    )  # fmt: skip
    assert sorted(p.name for p in output.parent.iterdir()) == [
        "tiny.onnx",
        "tiny_fp16.onnx",
        "tiny_int8.onnx",
    ]
    table = capsys.readouterr().out
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ")][1:]
    miou = {row[1].strip(): float(row[4]) for row in rows}
    assert list(miou) == [
        "PyTorch fp32",
        "PyTorch exact (folded, channels_last)",
        "PyTorch fast (folded, channels_last, bf16)",
        "ONNX fp32",
        "ONNX fp16",
        "ONNX int8 (minmax)",
    ]
    assert (
        miou["ONNX fp32"] == miou["PyTorch exact (folded, channels_last)"] == miou["PyTorch fp32"]
    )
    assert [row[6].strip() for row in rows[:2]] == ["-", "100.00%"]


def zoo_command(tmp_path, capsys, *flags):
    """The deploy zoo's export (opset, tensor names, TorchScript) of a trained tiny model, and
    its table in both resize modes: a 64x64 network for 64x96 images, so squash distorts.
    Returns the output path, the table header and its rows by model name."""
    model = tiny_model("seg_hrnet", NUM_CLASSES)
    write_dataset(tmp_path, model)
    torch.save({f"model.{k}": v for k, v in model.state_dict().items()}, tmp_path / "m.pth")
    (tmp_path / "tiny.yaml").write_text(evaluation_config().dump())
    output = tmp_path / "weights" / "m.onnx"
    export_onnx.main(
        [
            "--cfg", str(tmp_path / "tiny.yaml"),
            "--pth_file", str(tmp_path / "m.pth"),
            "--output", str(output), "--size", "64", "64",
            "--format", "onnx", "torchscript",
            "--opset", "13", "--input-name", "input", "--output-names", "output",
            "--evaluate", "--resize", "keep", "squash", "--repeats", "1",
            *flags,
            *dataset_options(tmp_path),
        ]
    )  # fmt: skip
    header, *rows = table_rows(capsys.readouterr().out)
    return output, header, {row[0]: row for row in rows}


def test_zoo_command_exports_both_formats_and_evaluates_both_resize_modes(tmp_path, capsys):
    output, header, table = zoo_command(tmp_path, capsys)
    assert sorted(p.name for p in output.parent.iterdir()) == ["m.onnx", "m.torchscript.pt"]
    graph = graph_of(output)
    assert [i.name for i in graph.input] == ["input"]
    assert [o.name for o in graph.output] == ["output"]
    assert opset_of(output) == 13
    assert header[3:] == [
        "mIoU (keep)", "pixel acc (keep)", "same pixels (keep)",
        "mIoU (squash)", "pixel acc (squash)", "same pixels (squash)",
        "latency 1x3x64x64 (ms)", "speed-up",
    ]  # fmt: skip
    assert list(table) == [
        "PyTorch fp32",
        "PyTorch exact (folded, channels_last)",
        "PyTorch fast (folded, channels_last, bf16)",
        "ONNX fp32",
        "TorchScript fp32",
    ]
    for name in ("ONNX fp32", "TorchScript fp32"):  # the same predictions in both modes
        assert table[name][3:5] == table["PyTorch fp32"][3:5]
        assert table[name][6:8] == table["PyTorch fp32"][6:8]
        assert table[name][5] == table[name][8] == "100.00%"


def test_command_evaluates_existing_files_of_every_format(tmp_path, capsys):
    """--files: the zoo's files evaluated again without exporting, named after the file."""
    output, _, exported = zoo_command(tmp_path, capsys)
    files = [str(output), str(output.with_name("m.torchscript.pt"))]
    export_onnx.main(
        [
            "--cfg", str(tmp_path / "tiny.yaml"), "--pth", str(tmp_path / "m.pth"),
            "--evaluate", "--files", *files,
            "--size", "64", "64", "--resize", "squash", "--repeats", "1",
            *dataset_options(tmp_path),
        ]
    )  # fmt: skip
    _, *rows = table_rows(capsys.readouterr().out)
    table = {row[0]: row for row in rows}
    assert list(table)[3:] == ["ONNX m", "TorchScript m"]
    for name in ("ONNX m", "TorchScript m"):  # squash columns of the export run
        assert table[name][3:6] == exported["ONNX fp32"][6:9]
    assert sorted(p.name for p in output.parent.iterdir()) == ["m.onnx", "m.torchscript.pt"]


def test_command_names_a_missing_or_foreign_file(tmp_path):
    (tmp_path / "notes.pt").write_text("not a model")
    for path, reason in (("missing.onnx", "does not exist"), ("notes.pt", "is not an export")):
        argv = ["--cfg", "x.yaml", "--evaluate", "--files", str(tmp_path / path)]
        with pytest.raises(CheckpointError, match=f"--files .*{path} {reason}: give files"):
            export_onnx.main(argv)


@pytest.mark.slow
def test_zoo_command_quantises_with_every_calibration_method(tmp_path, capsys):
    methods = ["minmax", "entropy", "percentile"]
    output, _, table = zoo_command(
        tmp_path, capsys, "--int8", "--calib-method", *methods, "--calib-count", "2"
    )
    names = sorted(p.name for p in output.parent.iterdir())
    assert names == ["m.onnx", "m.torchscript.pt"] + [f"m_int8_{m}.onnx" for m in sorted(methods)]
    assert list(table)[5:] == [f"ONNX int8 ({method})" for method in methods]
    for row in list(table.values())[5:]:  # working models (calibrated on 2 images here)
        assert float(row[4]) >= 70 and float(row[7]) >= 70  # pixel accuracy, keep and squash


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--format", "torchscript", "--fp16"], "--fp16 apply to the ONNX export"),
        (["--format", "torchscript", "--opset", "10"], "--opset apply to the ONNX export"),
        (["--calib-method", "entropy"], "--calib-method and --per-channel apply to --int8"),
        (["--resize", "squash"], "--resize chooses the --evaluate modes"),
        (
            ["--size", "0", "128"],
            "--size H W must be positive (the models run at any size), got 0 128",
        ),
        (["--size", "64", "-1"], "--size H W must be positive"),
        (
            ["--int8", "--calib-count", "0"],
            "--calib-count needs at least 1 calibration image, got 0",
        ),
    ],
)
def test_command_rejects_flags_that_do_not_apply_or_fit(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_:
        export_onnx.main(["--cfg", "x.yaml", "--output", str(tmp_path / "m.onnx"), *flags])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before writing anything
