"""datatools.panorama (crops of equirectangular panoramas): geometry, the seam, nearest labels,
yaw angles."""

import numpy as np
import pytest

from datatools.panorama import crop, crop_maps, yaw_angles


def direction_blob(pano_h, pano_w, lon_deg, lat_deg, sigma_deg=1.0):
    """Panorama whose brightness is a Gaussian of the angle to one direction (lat > 0: down)."""
    lon = (np.arange(pano_w) + 0.5) / pano_w * 2 * np.pi
    lat = (np.arange(pano_h) + 0.5) / pano_h * np.pi - np.pi / 2
    lon, lat = np.meshgrid(lon, lat)
    lon0, lat0 = np.radians(lon_deg), np.radians(lat_deg)
    cos_angle = np.sin(lat) * np.sin(lat0) + np.cos(lat) * np.cos(lat0) * np.cos(lon - lon0)
    angle = np.arccos(np.clip(cos_angle, -1, 1))
    return (255 * np.exp(-0.5 * (angle / np.radians(sigma_deg)) ** 2)).astype(np.uint8)


def centroid(image):
    weights = image.astype(np.float64)
    rows, cols = np.indices(image.shape)
    return (rows * weights).sum() / weights.sum(), (cols * weights).sum() / weights.sum()


def test_view_centre_looks_at_theta():
    map_x, map_y = crop_maps(180, 360, theta=90, fov=50, width=8, height=6)
    # 1 panorama pixel per degree: longitude 90 is column 89.5 (pixel centres at integers).
    assert map_x[2:4, 3:5].mean() == pytest.approx(89.5, abs=1e-4)
    assert map_y[2:4, 3:5].mean() == pytest.approx(89.5, abs=1e-4)


@pytest.mark.parametrize(
    ("lon", "lat", "theta"),
    [(100.0, 0.0, 100), (100.0, 15.0, 100), (120.0, 0.0, 100), (5.0, -10.0, 350)],
)
def test_direction_lands_on_predicted_pixel(lon, lat, theta):
    fov, width, height = 60.0, 64, 48
    panorama = direction_blob(360, 720, lon, lat)
    view = crop(panorama, theta, fov, width, height)
    # Pinhole camera at distance 1 looking at yaw theta: yaw offset a -> tan(a) across the
    # columns; on the centre column, latitude b -> tan(b) down the rows.
    half_rows = np.tan(np.radians(fov / 2))
    half_cols = half_rows * width / height
    yaw = np.radians((lon - theta + 180) % 360 - 180)
    x = np.tan(yaw)
    y = np.tan(np.radians(lat)) * np.sqrt(1 + x * x)
    expected_col = (x + half_cols) / (2 * half_cols / width) - 0.5
    expected_row = (y + half_rows) / (2 * half_rows / height) - 0.5
    row, col = centroid(view)
    assert row == pytest.approx(expected_row, abs=0.3)
    assert col == pytest.approx(expected_col, abs=0.3)


def test_horizontal_fov_follows_aspect():
    map_x, _ = crop_maps(180, 360, theta=180, fov=50, width=1024, height=768)
    span = map_x[384, -1] - map_x[384, 0]  # degrees between the outer pixel centres
    pixel = 2 * np.degrees(np.arctan(1024 / 768 * np.tan(np.radians(25)))) / 1024
    assert span == pytest.approx(63.742 - pixel, abs=0.2)


def test_seam_is_continuous():
    rng = np.random.default_rng(0)
    panorama = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    across_seam = crop(panorama, 0, 60, 40, 30)
    # The same view with the seam moved half way round: identical up to interpolation rounding.
    rolled = crop(np.roll(panorama, 64, axis=1), 180, 60, 40, 30)
    difference = np.abs(across_seam.astype(int) - rolled.astype(int))
    assert difference.max() <= 2 and difference.mean() < 0.1


def test_labels_keep_input_values():
    rng = np.random.default_rng(1)
    values = np.array([0, 2, 10, 255], np.uint8)
    label = values[rng.integers(0, 4, (64, 128))]
    view = crop(label, 350, 70, 48, 36, nearest=True)
    assert set(np.unique(view)) <= set(values.tolist())
    assert len(np.unique(view)) == 4


def test_yaw_angles_wrap_and_truncate():
    assert yaw_angles(4, 300) == [300, 30, 120, 210]
    assert yaw_angles(7, 0) == [0, 51, 102, 154, 205, 257, 308]
