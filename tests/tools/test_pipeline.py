"""tools/pipeline.py on a folder, a list file and bad inputs, with a tiny random model."""

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers.tiny_run import export_tiny_onnx, write_tiny_model
from helpers.tools import load_tool
from inference import Segmenter
from utils.errors import UserError
from utils.image_io import read_image
from utils.visualize import colorize, voc_palette

pipeline = load_tool("pipeline")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(YAML file, weights file) of a tiny random seg_hrnet with 5 classes."""
    return write_tiny_model(tmp_path_factory.mktemp("tiny"))


def write_images(folder, names, seed=0):
    rng = np.random.default_rng(seed)
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
        path.write_bytes(cv2.imencode(path.suffix, image)[1].tobytes())


def test_folder_writes_one_result_per_image(tiny, tmp_path):
    cfg_file, weights = tiny
    source, output = tmp_path / "图片", tmp_path / "结果"
    names = ["a.png", "b.jpg", "sub/商店.png"]
    write_images(source, names)
    (source / "notes.txt").write_text("not an image")
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input", str(source)]
    argv += ["--output", str(output), "--batch_size", "2", "--device", "cpu", "--exact"]
    assert pipeline.main(argv) == 0

    segmenter = Segmenter.from_files(cfg_file, weights, device="cpu", exact=True)
    for name in names:
        stem = name.rsplit(".", 1)[0]
        label = read_image(output / "labels" / f"{stem}.png")[..., 0]
        expected = segmenter([read_image(source / name)])[0][0]
        np.testing.assert_array_equal(label, expected)
        # the class-id convention: one channel, the same ids through PIL
        ids = np.asarray(Image.open(output / "labels" / f"{stem}.png"))
        assert ids.ndim == 2 and np.array_equal(ids, expected)
        color = read_image(output / "color" / f"{stem}.png")
        np.testing.assert_array_equal(color[..., ::-1], colorize(expected, voc_palette()))
        assert read_image(output / "overlay" / f"{stem}.jpg").shape == (32, 48, 3)
    for kind in ("labels", "color", "overlay"):
        assert len([p for p in (output / kind).rglob("*") if p.is_file()]) == len(names)
    assert not (output / "confidence").exists()  # only with --confidence


def test_images_of_one_name_get_results_of_their_own(tiny, tmp_path):
    cfg_file, weights = tiny
    source, output = tmp_path / "in", tmp_path / "out"
    write_images(source, ["x.png", "x.jpg", "y.png"])
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input", str(source)]
    assert pipeline.main([*argv, "--output", str(output), "--exact"]) == 0
    labels = sorted(p.name for p in (output / "labels").iterdir())
    assert labels == ["x_jpg.png", "x_png.png", "y.png"]
    segmenter = Segmenter.from_files(cfg_file, weights, device="cpu", exact=True)
    for image, result in (("x.jpg", "x_jpg"), ("x.png", "x_png")):
        expected = segmenter([read_image(source / image)])[0][0]
        np.testing.assert_array_equal(
            read_image(output / "labels" / f"{result}.png")[..., 0], expected
        )


def test_list_entries_are_written_inside_the_output_folder(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("../up/a.jpg\nup/a.png\n/abs/b.png\nc/b.png\n", encoding="utf-8")
    names = [name for _, name in pipeline.find_images(listing, root=tmp_path / "r")]
    assert names == ["up/a_jpg", "up/a_png", "b", "c/b"]


def test_confidence_maps_as_the_fork_stored_them(tiny, tmp_path):
    cfg_file, weights = tiny
    write_images(tmp_path / "in", ["a.png", "b.png"])
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input", str(tmp_path / "in")]
    argv += ["--output", str(tmp_path / "out"), "--exact", "--confidence"]
    assert pipeline.main(argv) == 0
    segmenter = Segmenter.from_files(cfg_file, weights, device="cpu", exact=True)
    for name in ("a", "b"):
        _, confidence = segmenter([read_image(tmp_path / "in" / f"{name}.png")])
        written = cv2.imread(str(tmp_path / "out" / "confidence" / f"{name}.png"), -1)
        assert written.dtype == np.uint8 and written.shape == (32, 48)
        expected = np.floor(confidence[0] * 255)
        assert np.abs(written.astype(int) - expected).max() <= 1  # float rounding at .0 edges
        assert (written == expected).mean() > 0.99


def test_list_file_with_root_and_opts(tiny, tmp_path):
    cfg_file, weights = tiny
    write_images(tmp_path / "data", ["img/x.png", "img/y.png"])
    listing = tmp_path / "test.lst"
    listing.write_text("img/x.png\tlabel/x.png\n\nimg/y.png\n", encoding="utf-8")
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input", str(listing)]
    argv += ["--root", str(tmp_path / "data"), "--output", str(tmp_path / "out"), "--exact"]
    assert pipeline.main([*argv, "TEST.FLIP_TEST", "True"]) == 0
    assert sorted(p.name for p in (tmp_path / "out" / "labels" / "img").iterdir()) == [
        "x.png",
        "y.png",
    ]


def test_unreadable_image_is_reported_and_skipped(tiny, tmp_path, capsys):
    cfg_file, weights = tiny
    write_images(tmp_path / "in", ["good.png"])
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a jpeg")
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input", str(tmp_path / "in")]
    assert pipeline.main([*argv, "--output", str(tmp_path / "out"), "--exact"]) == 1
    assert "broken.jpg: not an image OpenCV can read" in capsys.readouterr().err
    assert (tmp_path / "out" / "labels" / "good.png").is_file()
    assert not (tmp_path / "out" / "labels" / "broken.png").exists()


def test_missing_input_and_weights(tiny, tmp_path):
    cfg_file, weights = tiny
    argv = ["--cfg", str(cfg_file), "--output", str(tmp_path / "out")]
    with pytest.raises(UserError, match="input .*missing does not exist"):
        pipeline.main([*argv, "--pth", str(weights), "--input", str(tmp_path / "missing")])
    write_images(tmp_path, ["one.png"])
    with pytest.raises(UserError, match="weights file .*nope.pth does not exist"):
        pipeline.main(
            [*argv, "--pth", str(tmp_path / "nope.pth"), "--input", str(tmp_path / "one.png")]
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        pipeline.main([*argv, "--pth", str(weights), "--input", str(tmp_path / "empty")])


def test_onnx_model_gives_the_results_of_its_pth(tiny, tmp_path):
    """--pth model.onnx: the same tool runs the export in ONNX Runtime, with the results of the
    .pth within float tolerance (near-tie pixels aside)."""
    cfg_file, weights = tiny
    onnx_file = export_tiny_onnx(cfg_file, weights, tmp_path / "model.onnx")
    names = ["a.png", "b.png", "c.png"]
    write_images(tmp_path / "in", names)
    outputs = {}
    for key, model_file, extra in (("pth", weights, ["--exact"]), ("onnx", onnx_file, [])):
        outputs[key] = tmp_path / key
        argv = ["--cfg", str(cfg_file), "--pth", str(model_file), "--input", str(tmp_path / "in")]
        argv += ["--output", str(outputs[key]), "--device", "cpu", "--confidence", *extra]
        assert pipeline.main([*argv, "TEST.FLIP_TEST", "True"]) == 0
    for name in names:
        png = name.replace(".jpg", ".png")
        labels = [read_image(outputs[k] / "labels" / png)[..., 0] for k in ("pth", "onnx")]
        assert len(np.unique(labels[0])) >= 2  # not one class everywhere
        assert (labels[0] == labels[1]).mean() >= 0.99
        confidence = [read_image(outputs[k] / "confidence" / png)[..., 0] for k in outputs]
        assert np.abs(confidence[0].astype(int) - confidence[1].astype(int)).max() <= 1
