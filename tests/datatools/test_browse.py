"""datatools.browse: label overlays blend class colours and dim ignored pixels."""

import numpy as np

from datatools.browse import IGNORED_BRIGHTNESS, label_picture


def test_label_picture_blends_classes_and_dims_ignored_pixels():
    image = np.full((2, 3, 3), 100, np.uint8)
    label = np.array([[0, 1, 255], [1, 0, 255]])
    palette = np.array([[0, 0, 0], [200, 0, 50]], np.uint8)
    picture = label_picture(image, label, palette, ignore_label=255)
    assert picture.shape == (2, 6, 3)
    np.testing.assert_array_equal(picture[:, :3], image)
    np.testing.assert_array_equal(picture[0, 3], (50, 50, 50))
    np.testing.assert_array_equal(picture[0, 4], (150, 50, 75))
    np.testing.assert_array_equal(picture[0, 5], [round(IGNORED_BRIGHTNESS * 100)] * 3)
