"""Image geometry shared by training crops and test images."""

from datasets.transforms import scaled_size


def test_scaled_size_keeps_the_aspect_ratio():
    assert scaled_size(1024, 2048, 1024) == (512, 1024)
    assert scaled_size(37, 53, 27) == (19, 27)  # 18.85 rounded half up
    assert scaled_size(53, 37, 80) == (80, 56)
