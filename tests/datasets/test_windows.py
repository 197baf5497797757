"""The passes of the test policies: windows cover the image and stay inside the crop."""

import numpy as np
import pytest

from datasets.windows import bounded_windows, plan_passes, window_starts


@pytest.mark.parametrize(
    "size, crop, stride", [(10, 10, 6), (11, 10, 6), (100, 24, 16), (53, 32, 21), (7, 3, 2)]
)
def test_windows_cover_every_pixel_and_stay_inside(size, crop, stride):
    starts = window_starts(size, crop, stride)
    covered = set()
    for start in starts:
        assert 0 <= start and (start + crop <= size or start == 0)
        covered.update(range(start, min(start + crop, size)))
    assert covered == set(range(size))
    assert starts == sorted(set(starts))
    assert all(b - a <= stride for a, b in zip(starts, starts[1:], strict=False))


@pytest.mark.parametrize("height, width", [(64, 128), (80, 128), (33, 20), (3078, 5472)])
def test_bounded_windows_cover_the_image_without_exceeding_the_crop(height, width):
    crop = (1024, 2048) if height > 1000 else (32, 48)
    covered = np.zeros((height, width), int)
    for y0, y1, x0, x1 in bounded_windows(height, width, crop):
        assert 0 < y1 - y0 <= crop[0] and 0 < x1 - x0 <= crop[1]
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1


def test_base_passes_pad_the_last_windows_instead_of_moving_them():
    passes = plan_passes("base", 39, 52, (48, 48), 1.0)
    assert passes == [((0, 39, 0, 48), (48, 48)), ((0, 39, 32, 52), (48, 48))]
    assert plan_passes("base", 20, 26, (48, 48), 0.5) == [((0, 20, 0, 26), (48, 48))]
