"""tools/test.py end to end: metrics on labelled lists, saved predictions on image-only ones."""

import re
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import datasets
import models
from config import load_config
from helpers.original_prediction import original_multi_scale
from helpers.tiny_run import output_dir, spread_weights, write_tiny_run
from helpers.tools import load_tool
from utils.colormap import ClassTable
from utils.errors import UserError
from utils.metrics import confusion_matrix, segmentation_scores

test_tool = load_tool("test")


@pytest.fixture
def trained(tmp_path):
    """A tiny config and a random model saved as final_state.pth in the run folder."""
    cfg_file = write_tiny_run(tmp_path, num_val=3, size=40)
    torch.manual_seed(6)  # a random model that predicts two or three classes here
    model = spread_weights(models.build_model(load_config(cfg_file), pretrained=False))
    out = output_dir(tmp_path)
    out.mkdir(parents=True)
    torch.save({f"model.{k}": v for k, v in model.state_dict().items()}, out / "final_state.pth")
    return cfg_file, model.eval()


def reference_confusion(cfg_file, model, scales, flip):
    """The confusion matrix of the original's multi-scale + flip prediction, one input per
    forward pass (tests/helpers/original_prediction.py)."""
    cfg = load_config(cfg_file)
    dataset = datasets.build_dataset(cfg, "test")
    width, height = cfg.TEST.IMAGE_SIZE
    confusion = np.zeros((4, 4))
    for index in range(len(dataset)):
        image, label, _size, _name = dataset[index]
        with torch.no_grad():
            scores = original_multi_scale(
                model, datasets.normalize(image[None]), scales, flip, (height, width),
                cfg.TEST.BASE_SIZE, cfg.MODEL.ALIGN_CORNERS, "base",
            )  # fmt: skip
        confusion += confusion_matrix(label, scores.argmax(1)[0], 4, 255).numpy()
    return confusion


def logged_miou(caplog):
    return float(re.search(r"mIoU (\d\.\d+)", caplog.text).group(1))


def test_multi_scale_flip_equals_the_original_computation(trained, caplog):
    cfg_file, model = trained
    with caplog.at_level("INFO"):
        assert (
            test_tool.main(
                [
                    "--cfg",
                    str(cfg_file),
                    "--exact",
                    "TEST.SCALE_LIST",
                    "0.5,1.0,1.5",
                    "TEST.FLIP_TEST",
                    "True",
                ]
            )
            == 0
        )
    expected = reference_confusion(cfg_file, model, [0.5, 1.0, 1.5], flip=True)
    assert logged_miou(caplog) == pytest.approx(segmentation_scores(expected)["mIoU"], abs=1e-4)
    out = output_dir(cfg_file.parent)
    np.testing.assert_array_equal(np.load(out / "confusion_matrix.npy"), expected)
    assert (expected.sum(0) > 0).sum() >= 2  # not one class everywhere
    assert cv2.imread(str(out / "confusion_matrix.png")) is not None
    for name in ("background", "circle", "rectangle", "triangle"):
        assert name in caplog.text


def check_predictions(save_dir, names, cfg_file):
    """Raw-id PNGs and, in color/, colour pictures in the dataset's colours, one per image."""
    assert sorted(p.name for p in save_dir.glob("*.png")) == sorted(names)
    assert sorted(p.name for p in (save_dir / "color").glob("*.png")) == sorted(names)
    palette = ClassTable.from_file(load_config(cfg_file).DATASET.COLOR_MAP).palette()
    for name in names:
        prediction = cv2.imread(str(save_dir / name), cv2.IMREAD_UNCHANGED)
        assert prediction.shape == (40, 40) and set(np.unique(prediction)) <= {0, 1, 2, 3}
        color = cv2.cvtColor(cv2.imread(str(save_dir / "color" / name)), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(color, palette[prediction])


def test_image_only_list_writes_one_prediction_per_image(trained, tmp_path):
    cfg_file, _ = trained
    root = tmp_path / "data"
    images = [line.split()[0] for line in (root / "val.lst").read_text().split("\n") if line]
    (root / "test.lst").write_text("\n".join(images) + "\n")
    save_dir = tmp_path / "predictions"
    argv = ["--cfg", str(cfg_file), "--save-dir", str(save_dir), "DATASET.TEST_SET", "test.lst"]
    assert test_tool.main(argv) == 0
    check_predictions(save_dir, [image.split("/")[-1] for image in images], cfg_file)


def test_save_predictions_of_a_labelled_list(trained, tmp_path, caplog):
    cfg_file, _ = trained
    with caplog.at_level("INFO"):
        assert test_tool.main(["--cfg", str(cfg_file), "--save-predictions"]) == 0
    assert "mIoU" in caplog.text
    root = tmp_path / "data"
    images = [line.split()[0] for line in (root / "val.lst").read_text().split("\n") if line]
    save_dir = output_dir(tmp_path) / "test_results"
    check_predictions(save_dir, [image.split("/")[-1] for image in images], cfg_file)


def test_missing_model_file_is_a_clear_error(tmp_path):
    cfg_file = write_tiny_run(tmp_path)
    with pytest.raises(UserError, match="final_state.pth does not exist"):
        test_tool.main(["--cfg", str(cfg_file)])


@pytest.mark.parametrize(
    ("export_format", "file_name", "dynamic"),
    [
        ("onnx", "model.onnx", False),
        ("onnx", "model.onnx", True),
        ("torchscript", "traced.pt", False),  # recognised by its content, whatever its name
    ],
)
def test_export_scores_as_its_pth(tmp_path, caplog, export_format, file_name, dynamic):
    """The same Predictor, loop and metrics for an exported file as for the .pth; a fixed-size
    export (24x32, another window than the config's 40x40) makes its size the sliding window."""
    if export_format == "onnx":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
    import deploy

    cfg_file = write_tiny_run(tmp_path, num_val=3, size=40)
    torch.manual_seed(6)  # a random model that predicts two or three classes here
    model = spread_weights(models.build_model(load_config(cfg_file), pretrained=False)).eval()
    weights, exported = tmp_path / "model.pth", tmp_path / file_name
    torch.save(model.state_dict(), weights)
    size = (40, 40) if dynamic else (24, 32)
    deploy.get_format(export_format).export(model, exported, size, dynamic=dynamic)
    # 0.75: a 30x30 image, two windows of 24x32 (padded); 1.25: 50x50, six windows, flipped too
    options = ["--exact", "TEST.SCALE_LIST", "0.75,1.25", "TEST.FLIP_TEST", "True"]

    def confusion(model_file, *overrides):
        caplog.clear()
        argv = ["--cfg", str(cfg_file), *options, "TEST.MODEL_FILE", str(model_file), *overrides]
        with caplog.at_level("INFO"):
            assert test_tool.main(argv) == 0
        return np.load(output_dir(tmp_path) / "confusion_matrix.npy")

    expected = confusion(weights, *([] if dynamic else ["TEST.IMAGE_SIZE", "32,24"]))
    got = confusion(exported)
    label = deploy.get_format(export_format).label
    assert f"--exact is ignored for an exported model ({label})" in caplog.text
    assert ("the evaluation crop (TEST.IMAGE_SIZE) becomes 24x32" in caplog.text) != dynamic
    assert (expected.sum(0) > 0).sum() >= 2  # not one class everywhere
    assert np.abs(got - expected).sum() <= 1e-3 * expected.sum()  # a few near-tie pixels at most
    miou = segmentation_scores(got)["mIoU"]
    assert miou == pytest.approx(segmentation_scores(expected)["mIoU"], abs=1e-3)
    assert logged_miou(caplog) == pytest.approx(miou, abs=1e-4)


def test_onnx_without_onnxruntime_is_a_clear_error(trained, monkeypatch):
    cfg_file, _ = trained
    onnx_file = cfg_file.parent / "model.onnx"
    onnx_file.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "inference.onnx_runtime", raising=False)
    with pytest.raises(UserError, match="pip install -r requirements-deploy.txt"):
        test_tool.main(["--cfg", str(cfg_file), "TEST.MODEL_FILE", str(onnx_file)])


def test_squash_resize_predicts_at_the_network_size(trained, caplog):
    """TEST.RESIZE squash: each 40x40 image runs once at the network size (TEST.IMAGE_SIZE
    24x16, w x h), whatever TEST.BASE_SIZE; the scores are those of that plain computation."""
    cfg_file, model = trained
    argv = ["--cfg", str(cfg_file), "--exact", "TEST.RESIZE", "squash"]
    argv += ["TEST.IMAGE_SIZE", "24,16", "TEST.BASE_SIZE", "200"]
    with caplog.at_level("INFO"):
        assert test_tool.main(argv) == 0
    assert "resize squash" in caplog.text
    dataset = datasets.build_dataset(load_config(cfg_file), "test")
    confusion = np.zeros((4, 4))
    for index in range(len(dataset)):
        image, label, _size, _name = dataset[index]
        x = F.interpolate(datasets.normalize(image[None]), size=(16, 24), mode="bilinear")
        with torch.no_grad():
            logits = F.interpolate(model(x), size=(16, 24), mode="bilinear")
        prediction = F.interpolate(logits.softmax(1), size=label.shape, mode="bilinear")
        confusion += confusion_matrix(label, prediction.argmax(1)[0], 4, 255).numpy()
    assert logged_miou(caplog) == pytest.approx(segmentation_scores(confusion)["mIoU"], abs=1e-4)
