"""tools/preprocessPanorama.py: crop geometry, the seam, nearest labels, the store pipeline."""

import numpy as np
import pytest
from PIL import Image

from datatools.panorama import crop, crop_maps, yaw_angles
from helpers.tools import load_tool
from utils.colormap import ClassTable
from utils.errors import UserError
from utils.image_io import read_label, write_image

preprocessPanorama = load_tool("preprocessPanorama")

TABLE = "ground 0 0 100 100\nwall 2 200 200 255\nlayered_shelf 10 100 50 0\n"


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


def make_store(root, store, name):
    """A 64x128 panorama: left half ground, right quarter shelf, the rest an unknown colour."""
    table = ClassTable.parse(TABLE)
    folder = root / store
    folder.mkdir(parents=True)
    colors = np.zeros((64, 128, 3), np.uint8)
    colors[:, :64] = table.colors[0]
    colors[:, 64:96] = (1, 2, 3)
    colors[:, 96:] = table.colors[2]
    Image.fromarray(colors).save(folder / f"{name}.png")
    write_image(folder / f"{name}.jpg", np.full((64, 128, 3), 128, np.uint8))


def test_tool_writes_crops_and_cached_ids(tmp_path):
    root, store, name = tmp_path / "全景数据", "店铺1", "位置 01"
    make_store(root, store, name)
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    argv = [
        "--root", str(root), "--count", "4", "--fov", "60", "--width", "32", "--height", "24",
        "--seed", "3", "--threads", "2", "--color-map", str(tmp_path / "colorMap.txt"), "--quiet",
    ]  # fmt: skip
    preprocessPanorama.main(argv)
    images = sorted(p.stem for p in (root / "merge" / "image").glob("*.jpg"))
    labels = sorted(p.stem for p in (root / "merge" / "label").glob("*.png"))
    assert images == labels and len(images) == 4
    thetas = sorted(int(n.split("_")[-2]) for n in images)
    assert all(n.startswith(f"{store}_{name}_") and n.endswith("_60") for n in images)
    assert np.diff(thetas).tolist() == [90, 90, 90]
    cached = read_label(root / store / "label" / f"{name}.png")
    assert set(np.unique(cached)) == {0, 10, 255}  # raw ids, unknown colour -> 255
    assert (cached[:, :64] == 0).all() and (cached[:, 64:96] == 255).all()
    for stem in labels:
        assert set(np.unique(read_label(root / "merge" / "label" / f"{stem}.png"))) <= {0, 10, 255}
    # Same seed, same angles (the output folder is not taken for a store).
    preprocessPanorama.main(argv)
    assert len(list((root / "merge" / "image").glob("*.jpg"))) == 4


def test_missing_colour_label_is_named(tmp_path):
    root = tmp_path / "raw"
    make_store(root, "s1", "a")
    (root / "s1" / "a.png").unlink()
    (tmp_path / "colorMap.txt").write_text(TABLE, encoding="utf-8")
    with pytest.raises(UserError, match=r"a\.png"):
        preprocessPanorama.main(
            ["--root", str(root), "--color-map", str(tmp_path / "colorMap.txt"), "--quiet"]
        )
