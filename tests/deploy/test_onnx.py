"""ONNX export parity, fp16 / int8 variants, and their evaluation with the PyTorch code path."""

import cv2
import numpy as np
import pytest
import torch
from tiny_models import smooth_input, tiny_config, tiny_model

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import export_onnx  # noqa: E402

import datasets  # noqa: E402
import deploy  # noqa: E402
from core.predictor import Predictor  # noqa: E402

NUM_CLASSES = 5
SIZE = (64, 96)


def labelled_images(model, count=3, seed=100):
    """uint8 RGB images (1, 3, H, W) like the tiny models' training input, labelled (1, H, W)
    with `model`'s own prediction: a variant's pixel accuracy is its agreement with it."""
    std, mean = (
        torch.tensor(v).view(3, 1, 1) for v in (datasets.IMAGENET_STD, datasets.IMAGENET_MEAN)
    )
    predictor = Predictor.from_config(evaluation_config(), model, "cpu")
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
    onnx_model = deploy.OnnxModel(path, spinning=not dynamic)
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
    onnx_model = deploy.OnnxModel(path)
    for other in [size, (96, 64), (97, 131), (40, 200)] if dynamic else [size]:
        for difference in deploy.compare_outputs(model, onnx_model, smooth_input(2, *other)):
            assert difference["rel"] <= 1e-4


def test_fixed_size_export_names_its_size_on_other_input(tmp_path):
    path = tmp_path / "model.onnx"
    deploy.export_onnx(tiny_model("seg_hrnet", NUM_CLASSES, steps=0), path, SIZE)
    with pytest.raises(ValueError, match="exported for 64x96 input, got 96x64"):
        deploy.OnnxModel(path)(torch.zeros(1, 3, 96, 64))


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
    assert list(deploy.export_window(other, deploy.OnnxModel(fixed)).TEST.IMAGE_SIZE) == [96, 64]
    assert list(other.TEST.IMAGE_SIZE) == [40, 40]  # a copy: the caller's config is unchanged
    assert deploy.export_window(cfg, deploy.OnnxModel(fixed)) is cfg
    assert deploy.export_window(other, deploy.OnnxModel(dynamic)) is other
    assert deploy.export_window(other, model) is other

    samples = labelled_images(model, count=2)
    loader = [(image, label, [SIZE], [f"{i}"]) for i, (image, label) in enumerate(samples)]
    scores = deploy.evaluate(deploy.OnnxModel(fixed), other, loader)
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
    scores = {"torch": deploy.evaluate(model, cfg, loader)}
    for path in (fp32, fp16, int8):
        scores[path.stem] = deploy.evaluate(deploy.OnnxModel(path), cfg, loader)
    assert scores["torch"]["pixel_acc"] == 1.0
    assert scores["fp32"]["mIoU"] == pytest.approx(scores["torch"]["mIoU"], abs=1e-3)
    assert scores["fp16"]["pixel_acc"] >= 0.99
    assert scores["int8"]["pixel_acc"] >= 0.9
    assert deploy.latency_ms(deploy.OnnxModel(int8), torch.zeros(1, 3, *SIZE), 2, 1) > 0


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
        path.stem: (deploy.OnnxModel(path)(x).argmax(1) == expected).float().mean()
        for path in (fp16, int8)
    }
    assert same["fp16"] >= 0.99
    assert same["int8"] >= 0.8  # 0.90: depthwise convolutions and sigmoid gates quantise worse


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
            "DATASET.DATASET", "custom",
            "DATASET.ROOT", str(tmp_path),
            "DATASET.COLOR_MAP", str(tmp_path / "colorMap.txt"),
            "DATASET.TRAIN_SET", "train.lst",
            "DATASET.TEST_SET", "val.lst",
            "WORKERS", "0",
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
        "ONNX int8",
    ]
    assert (
        miou["ONNX fp32"] == miou["PyTorch exact (folded, channels_last)"] == miou["PyTorch fp32"]
    )
    assert [row[6].strip() for row in rows[:2]] == ["-", "100.00%"]
