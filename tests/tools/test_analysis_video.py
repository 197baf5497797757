"""tools/analysisVideo.py on a short synthetic video with a tiny random model."""

import cv2
import numpy as np
import pytest

from helpers.tiny_run import export_tiny_onnx, write_tiny_model
from helpers.tools import load_tool
from inference import Segmenter
from utils.errors import UserError
from utils.visualize import colorize, voc_palette

analysisVideo = load_tool("analysisVideo")

FRAMES, WIDTH, HEIGHT, FPS = 7, 96, 64, 10.0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(YAML file, weights file, input video) with a tiny random seg_hrnet of 5 classes."""
    folder = tmp_path_factory.mktemp("video")
    cfg_file, weights = write_tiny_model(folder)
    video = folder / "输入.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    for t in range(FRAMES):  # smooth gradients and a moving square: easy on the codecs
        frame = np.stack([x * 2, y * 3, np.full_like(x, 40 * t)], axis=-1).astype(np.uint8)
        frame[16:40, 10 + 8 * t : 34 + 8 * t] = (30, 200, 240)
        writer.write(frame)
    writer.release()
    return cfg_file, weights, video


def read_video(path):
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, fps


def test_mosaic_video(tiny, tmp_path):
    cfg_file, weights, video = tiny
    output = tmp_path / "结果" / "out.avi"
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input_video", str(video)]
    argv += ["--output_video", str(output), "--batch_size", "3", "--scale_factor", "0.5"]
    assert analysisVideo.main([*argv, "--device", "cpu", "--exact"]) == 0

    mosaics, fps = read_video(output)
    assert len(mosaics) == FRAMES  # 3 + 3 + the partial batch of 1
    assert fps == pytest.approx(FPS)
    assert mosaics[0].shape == (HEIGHT, WIDTH, 3)  # 2x the half-size frame

    frames = [
        cv2.resize(f, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
        for f in read_video(video)[0]
    ]
    segmenter = Segmenter.from_files(cfg_file, weights, device="cpu", exact=True)
    class_maps, confidences = segmenter(frames)
    bgr = voc_palette()[:, ::-1]
    h, w = HEIGHT // 2, WIDTH // 2
    for got, frame, class_map, confidence in zip(
        mosaics, frames, class_maps, confidences, strict=True
    ):
        colors = colorize(class_map, bgr)
        heat = cv2.applyColorMap(np.round(confidence * 255).astype(np.uint8), cv2.COLORMAP_JET)
        quadrants = {
            "frame": (got[:h, :w], frame),
            "colours": (got[:h, w:], colors),
            "confidence": (got[h:, :w], cv2.addWeighted(frame, 0.5, heat, 0.5, 0)),
            "overlay": (got[h:, w:], cv2.addWeighted(frame, 0.3, colors, 0.7, 0)),
        }
        for name, (actual, expected) in quadrants.items():
            error = np.abs(actual.astype(int) - expected.astype(int)).mean()
            # XVID is lossy: about 3-8 here, against 24 and more for a wrong quadrant
            assert error < 12, f"{name} quadrant differs by {error:.1f} on average"
        # the colour quadrant decodes back to the predicted classes almost everywhere
        distance = np.abs(got[:h, w:, None].astype(int) - bgr[None, None, :5].astype(int)).sum(-1)
        assert (distance.argmin(-1) == class_map).mean() > 0.9


def test_confidence_colours_run_blue_to_red():
    colors = analysisVideo.confidence_colors(np.array([[0.0, 1.0]]))
    blue, red = colors[0, 0], colors[0, 1]  # BGR
    assert blue[0] > 100 and blue[1] == 0 and blue[2] == 0
    assert red[2] > 100 and red[0] == 0 and red[1] == 0


def test_errors(tiny, tmp_path):
    cfg_file, weights, video = tiny
    argv = ["--cfg", str(cfg_file), "--pth", str(weights)]
    with pytest.raises(UserError, match=r"must end in \.avi, \.mkv, \.mp4"):
        analysisVideo.main([*argv, "--input-video", str(video), "--output-video", "out.mov"])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(UserError, match="OpenCV cannot read the video .*broken.mp4"):
        analysisVideo.main(
            [*argv, "--input_video", str(broken), "--output_video", str(tmp_path / "o.avi")]
        )
    with pytest.raises(UserError, match="does not exist"):
        analysisVideo.main(
            [*argv, "--input_video", str(tmp_path / "none.mp4"), "--output_video", "o.avi"]
        )
    kept = video.read_bytes()
    with pytest.raises(UserError, match="is the input video"):
        analysisVideo.main([*argv, "--input-video", str(video), "--output-video", str(video)])
    assert video.read_bytes() == kept


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_mp4_and_mkv_output(tiny, tmp_path, suffix):
    cfg_file, weights, video = tiny
    output = tmp_path / f"out{suffix}"
    argv = ["--cfg", str(cfg_file), "--pth", str(weights), "--input-video", str(video)]
    argv += ["--output-video", str(output), "--batch-size", "4", "--device", "cpu"]
    assert analysisVideo.main(argv) == 0
    mosaics, fps = read_video(output)
    assert len(mosaics) == FRAMES and fps == pytest.approx(FPS)
    assert mosaics[0].shape == (HEIGHT, WIDTH, 3)


def test_onnx_model_gives_the_results_of_its_pth(tiny, tmp_path):
    """A fixed-size .onnx export (the half-size frame) in place of the .pth: the same mosaics
    within codec and float tolerance, and the segmenter's maps within float tolerance."""
    cfg_file, weights, video = tiny
    onnx_file = export_tiny_onnx(cfg_file, weights, tmp_path / "m.onnx", (HEIGHT // 2, WIDTH // 2))
    mosaics = {}
    for key, model_file, extra in (("pth", weights, ["--exact"]), ("onnx", onnx_file, [])):
        output = tmp_path / f"{key}.avi"
        argv = ["--cfg", str(cfg_file), "--pth", str(model_file), "--input-video", str(video)]
        argv += ["--output-video", str(output), "--batch-size", "4", "--device", "cpu", *extra]
        assert analysisVideo.main(argv) == 0
        mosaics[key] = read_video(output)[0]
    assert len(mosaics["onnx"]) == FRAMES
    for pth, onnx in zip(mosaics["pth"], mosaics["onnx"], strict=True):
        assert np.abs(pth.astype(int) - onnx.astype(int)).mean() < 1

    frames = [
        cv2.resize(f, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
        for f in read_video(video)[0]
    ]
    expected = Segmenter.from_files(cfg_file, weights, device="cpu", exact=True)(frames)
    got = Segmenter.from_files(cfg_file, onnx_file, device="cpu")(frames)
    for want, have in zip(expected[0], got[0], strict=True):
        assert (want == have).mean() >= 0.99
    np.testing.assert_allclose(np.stack(got[1]), np.stack(expected[1]), atol=1e-4)
