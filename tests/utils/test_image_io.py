"""utils.image_io: one reader and writer for images, labels and class maps, any path."""

import cv2
import numpy as np
import pytest
from PIL import Image

from utils.errors import DataError
from utils.image_io import LabelFileError, read_image, read_label, write_image, write_png


def colour_image(height=6, width=8):
    """A BGR image whose three channels differ everywhere."""
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = 10  # blue
    image[..., 1] = np.arange(width) * 20  # green
    image[..., 2] = 250  # red
    return image


def test_images_are_read_in_the_order_asked_for_on_non_ascii_paths(tmp_path):
    bgr = colour_image()
    path = tmp_path / "städte 图" / "a.png"
    path.parent.mkdir()
    path.write_bytes(cv2.imencode(".png", bgr)[1].tobytes())
    assert np.array_equal(read_image(path), bgr)
    assert np.array_equal(read_image(path, order="rgb"), bgr[..., ::-1])
    with pytest.raises(ValueError, match="order must be one of bgr, rgb"):
        read_image(path, order="RGB")


def test_write_image_takes_the_channel_order_and_the_suffix_format(tmp_path):
    bgr = colour_image()
    rgb_path = write_image(tmp_path / "out" / "ü.png", bgr[..., ::-1].copy())
    assert np.array_equal(cv2.imdecode(np.fromfile(rgb_path, np.uint8), cv2.IMREAD_COLOR), bgr)
    bgr_path = write_image(tmp_path / "out" / "b.png", bgr, order="bgr")
    assert np.array_equal(read_image(bgr_path), bgr)
    jpeg = write_image(tmp_path / "out" / "c.jpg", bgr[..., ::-1].copy())
    assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff"
    assert np.abs(read_image(jpeg).astype(int) - bgr).max() < 40  # lossy, but the same colours


def test_read_errors_name_the_file_and_where_it_was_listed(tmp_path):
    with pytest.raises(DataError, match=r"^image .*missing\.png does not exist$"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"^val\.lst:3: image .*bad\.jpg cannot be decoded"):
        read_image(tmp_path / "bad.jpg", where="val.lst:3")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"label .*empty\.png is empty"):
        read_label(tmp_path / "empty.png")


def test_labels_grey_palette_and_16_bit_round_trip(tmp_path):
    values = np.array([[0, 1, 2, 255], [7, 7, 3, 0]], np.uint8)
    assert np.array_equal(read_label(write_png(tmp_path / "grey.png", values)), values)
    wide = values.astype(np.uint16) * 300
    saved = read_label(write_png(tmp_path / "wide.png", wide))
    assert saved.dtype == np.uint16 and np.array_equal(saved, wide)
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], np.uint8)
    path = write_png(tmp_path / "sub" / "palette.png", values, palette)
    with Image.open(path) as image:
        assert image.mode == "P" and image.getpalette()[3:9] == [255, 0, 0, 0, 255, 0]
    assert np.array_equal(read_label(path), values)  # the indices, not the colours
    classes = np.array([[1, 2]], np.int64)  # class maps of any integer type are written 8-bit
    assert read_label(write_png(tmp_path / "classes.png", classes)).tolist() == [[1, 2]]


def test_labels_that_are_not_one_channel_pngs_are_refused(tmp_path):
    grey = np.full((4, 5), 3, np.uint8)
    (tmp_path / "l.jpg").write_bytes(cv2.imencode(".jpg", grey)[1].tobytes())
    with pytest.raises(LabelFileError, match=r"l\.jpg is a JPEG file: JPEG compression"):
        read_label(tmp_path / "l.jpg")
    write_image(tmp_path / "rgb.png", np.dstack([grey] * 3))
    with pytest.raises(LabelFileError, match="three channels are equal"):
        read_label(tmp_path / "rgb.png")
    write_image(tmp_path / "colour.png", colour_image())
    with pytest.raises(LabelFileError, match=r"is a colour image \(3 channels\)"):
        read_label(tmp_path / "colour.png", where="train.lst:1")
