r"""Segment a video and write a 2x2 mosaic per frame to an .avi, .mp4 or .mkv file.

  python tools/analysisVideo.py --cfg experiments/panorama/train.yaml --pth final_state.pth \
      --input-video input.mp4 --output-video output.avi --batch-size 12 --scale-factor 0.5

Frames are resized by --scale-factor (0.5: half width and height) and segmented --batch-size at
a time (with the config's TEST.SCALE_LIST / TEST.FLIP_TEST on top). The mosaic, twice the
resized frame in width and height, at the input frame rate:

  top-left     the frame                  top-right     the classes in colour
  bottom-left  confidence (max softmax    bottom-right  frame 0.3 + colours 0.7
               probability, blue 0 .. red 1; JET) blended 0.5 with the frame

--pth is a weights file or an export of tools/export_onnx.py (.onnx, TorchScript), run as
exported (--exact does not apply; a fixed-size export's size becomes the window).

.avi and .mkv are written with the XVID codec (MJPG where OpenCV has no XVID encoder), .mp4
with MPEG-4 Part 2 (mp4v).
"""

import sys
from pathlib import Path

import _init_paths  # noqa: F401
import cv2
import numpy as np

from inference import Segmenter
from utils import cli
from utils.allocator import set_allocator_options
from utils.errors import CheckpointError, ConfigError, DataError, UserError
from utils.logger import progress_bar
from utils.visualize import colorize

FOURCCS = {".avi": ("XVID", "MJPG"), ".mkv": ("XVID", "MJPG"), ".mp4": ("mp4v",)}


def parse_args(argv=None):
    parser = cli.ArgumentParser(__doc__)
    cli.add_model_arguments(parser)
    parser.add_argument("--input-video", required=True, help="any video OpenCV can read")
    parser.add_argument("--output-video", required=True, help="output .avi, .mp4 or .mkv file")
    parser.add_argument("--batch-size", type=int, default=12, help="frames per forward pass")
    parser.add_argument(
        "--scale-factor", type=float, default=0.5, help="resize frames by this before inference"
    )
    cli.add_inference_arguments(parser)
    cli.add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.scale_factor <= 0:
        parser.error("--batch-size must be >= 1 and --scale-factor > 0")
    return args


def confidence_colors(confidence):
    """BGR colours of probabilities in [0, 1]: blue (0) through green and yellow to red (1)."""
    grey = np.round(np.clip(confidence, 0, 1) * 255).astype(np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_JET)


def mosaic(frame, class_map, confidence, palette):
    """2x2 BGR mosaic: frame | colours, confidence over the frame | colours over the frame."""
    colors = colorize(class_map, palette[:, ::-1])  # RGB palette -> BGR picture
    top = np.hstack([frame, colors])
    bottom = np.hstack(
        [
            cv2.addWeighted(frame, 0.5, confidence_colors(confidence), 0.5, 0),
            cv2.addWeighted(frame, 0.3, colors, 0.7, 0),
        ]
    )
    return np.vstack([top, bottom])


def open_writer(path, fps, size):
    """A VideoWriter for (width, height) frames with the first codec of FOURCCS[suffix] that
    this OpenCV can write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    codecs = FOURCCS[path.suffix.lower()]
    for fourcc in codecs:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if writer.isOpened():
            return writer
    raise UserError(f"OpenCV cannot write {path} with any of {', '.join(codecs)}")


def frame_batches(capture, batch_size, scale):
    """Lists of up to `batch_size` frames, resized by `scale`; the last list may be shorter."""
    batch = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if scale != 1:
            size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
            interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            frame = cv2.resize(frame, size, interpolation=interpolation)
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv=None):
    args = parse_args(argv)
    source, target = Path(args.input_video), Path(args.output_video)
    if target.suffix.lower() not in FOURCCS:
        raise ConfigError(
            f"--output-video {target} must end in {', '.join(FOURCCS)} (the formats written)"
        )
    if not source.is_file():
        raise DataError(f"input video {source} does not exist")
    if target.exists() and target.samefile(source):
        raise ConfigError(f"--output-video {target} is the input video; give another file")
    if args.pth and not Path(args.pth).is_file():
        raise CheckpointError(f"weights file {args.pth} does not exist")
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise DataError(f"OpenCV cannot read the video {source}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    segmenter = Segmenter.from_files(
        args.cfg, args.pth, args.opts, args.device, args.exact, args.batch_size
    )
    writer, written = None, 0
    try:
        with progress_bar(total=total, unit="frame", desc=source.name) as bar:
            for frames in frame_batches(capture, args.batch_size, args.scale_factor):
                class_maps, confidences = segmenter(frames)
                for frame, class_map, confidence in zip(
                    frames, class_maps, confidences, strict=True
                ):
                    picture = mosaic(frame, class_map, confidence, segmenter.palette)
                    if writer is None:
                        height, width = picture.shape[:2]
                        writer = open_writer(target, fps, (width, height))
                        bar.write(f"mosaic {width}x{height} at {fps:g} fps -> {target}")
                    writer.write(picture)
                    written += 1
                bar.update(len(frames))
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if not written:
        raise DataError(f"OpenCV read no frames from {source}")
    print(f"wrote {written} frames to {target}")
    return 0


if __name__ == "__main__":
    set_allocator_options()
    sys.exit(cli.run_tool(main))
