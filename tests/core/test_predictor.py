"""The predictor against a plain loop doing each scale, flip and window separately."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from config import get_defaults
from core.predictor import LIP_FLIP_PAIRS, Predictor, scaled_size, window_starts
from utils.errors import ConfigError

K = 4


class TinySegModel(nn.Module):
    """A 1x1 conv and an average pool: logits at 1/4 of the input size; counts its calls."""

    def __init__(self, num_classes=K, outputs=1):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, num_classes, 1)
        self.outputs = outputs
        self.batch_sizes = []

    def forward(self, x):
        self.batch_sizes.append(len(x))
        logits = F.avg_pool2d(self.conv(x), 4)
        if self.outputs == 1:
            return logits
        return [logits * 0.5 + 1.0] * (self.outputs - 1) + [logits]


def plain_starts(size, crop):
    stride = int(crop * 2 / 3)
    if size <= crop:
        return [0]
    starts, y = [], 0
    while y + crop < size:
        starts.append(y)
        y += stride
    return starts + [size - crop]


def plain_prediction(model, image, scales, flip, crop, base_size, align_corners, pairs=()):
    """One image (1, 3, H, W), each scale, flip and window on its own."""
    _, _, height, width = image.shape
    permutation = list(range(K))
    for a, b in pairs:
        permutation[a], permutation[b] = b, a
    total = 0
    for scale in scales:
        long_side = int(base_size * scale + 0.5)
        if height > width:
            h, w = long_side, int(width * long_side / height + 0.5)
        else:
            h, w = int(height * long_side / width + 0.5), long_side
        scaled = F.interpolate(image, size=(h, w), mode="bilinear", align_corners=False)
        per_flip = []
        for mirrored in [False, True] if flip else [False]:
            acc = torch.zeros(1, K, h, w)
            count = torch.zeros(h, w)
            for y0 in plain_starts(h, crop[0]):
                for x0 in plain_starts(w, crop[1]):
                    y1, x1 = min(y0 + crop[0], h), min(x0 + crop[1], w)
                    tile = torch.zeros(1, 3, *crop)
                    tile[:, :, : y1 - y0, : x1 - x0] = scaled[:, :, y0:y1, x0:x1]
                    if mirrored:
                        tile = tile.flip(-1)
                    logits = F.interpolate(
                        model(tile), size=crop, mode="bilinear", align_corners=align_corners
                    )
                    probs = logits.softmax(1)
                    if mirrored:
                        probs = probs.flip(-1)[:, permutation]
                    acc[:, :, y0:y1, x0:x1] += probs[:, :, : y1 - y0, : x1 - x0]
                    count[y0:y1, x0:x1] += 1
            per_flip.append(acc / count)
        probs = sum(per_flip) / len(per_flip)
        total = total + F.interpolate(
            probs, size=(height, width), mode="bilinear", align_corners=align_corners
        )
    return total / len(scales)


@pytest.mark.parametrize(
    "align_corners, max_batch, pairs", [(True, 3, ()), (False, 1, ((0, 1),)), (False, 16, ())]
)
def test_multi_scale_flip_matches_the_plain_loop(align_corners, max_batch, pairs):
    torch.set_num_threads(1)
    model = TinySegModel()
    image = torch.randn(1, 3, 37, 53)
    scales, crop = [0.5, 1.0, 1.5], (24, 32)  # 0.5 fits in the crop; 1.0 and 1.5 slide
    predictor = Predictor(
        model,
        K,
        align_corners=align_corners,
        scales=scales,
        flip=True,
        crop_size=crop,
        base_size=53,
        flip_pairs=pairs,
        max_batch=max_batch,
    )
    with torch.no_grad():
        expected = plain_prediction(model, image, scales, True, crop, 53, align_corners, pairs)
    model.batch_sizes.clear()
    result = predictor(image)
    assert result.shape == (1, K, 37, 53)
    torch.testing.assert_close(result, expected, rtol=1e-5, atol=1e-6)
    assert max(model.batch_sizes) <= max_batch


def test_batch_equals_images_one_by_one_and_single_image_drops_the_batch_axis():
    torch.set_num_threads(1)
    model = TinySegModel()
    images = torch.randn(2, 3, 29, 21)
    predictor = Predictor(model, K, scales=[1.0, 1.25], flip=True, crop_size=(16, 16), max_batch=4)
    batch = predictor(images)
    for i in range(2):
        torch.testing.assert_close(batch[i], predictor(images[i]), rtol=1e-5, atol=1e-6)
    assert predictor(images[0]).shape == (K, 29, 21)


def test_odd_sizes_give_probabilities_at_image_size():
    model = TinySegModel()
    for height, width in [(31, 17), (5, 7), (17, 40)]:
        predictor = Predictor(model, K, scales=[0.75, 1.0], flip=True, crop_size=(9, 13))
        probs = predictor(torch.randn(1, 3, height, width))
        assert probs.shape == (1, K, height, width)
        torch.testing.assert_close(probs.sum(1), torch.ones(1, height, width))


def test_flip_and_windows_share_forward_passes():
    model = TinySegModel()
    image = torch.randn(1, 3, 20, 40)  # crop 16x32, stride 10x21: 2 x 2 windows, 8 with flips
    Predictor(model, K, flip=True, crop_size=(16, 32), max_batch=8)(image)
    assert model.batch_sizes == [8]
    model.batch_sizes.clear()
    Predictor(model, K, flip=True, crop_size=None, max_batch=8)(image)
    assert model.batch_sizes == [2]  # whole image and its mirror


def test_with_sizes_is_a_copy_with_other_sizes():
    model = TinySegModel()
    image = torch.randn(1, 3, 20, 40)
    settings = dict(scales=[0.75, 1.0], flip=True, flip_pairs=[(0, 1)])
    windows = Predictor(model, K, crop_size=(16, 16), base_size=48, **settings)
    whole = windows.with_sizes(crop_size=None, base_size=None)
    assert (windows.crop_size, windows.base_size) == ((16, 16), 48)  # the original is unchanged
    torch.testing.assert_close(whole(image), Predictor(model, K, **settings)(image))
    with pytest.raises(ConfigError, match=r"crop \(TEST.IMAGE_SIZE, width height\) must be two"):
        windows.with_sizes((16,), None)


def test_output_index_picks_the_main_output_of_a_list():
    image = torch.randn(1, 3, 24, 24)
    single = Predictor(TinySegModel(), K, crop_size=(16, 16))(image)
    ocr = Predictor(TinySegModel(outputs=2), K, output_index=-1, crop_size=(16, 16))(image)
    aux = Predictor(TinySegModel(outputs=2), K, output_index=0, crop_size=(16, 16))(image)
    torch.testing.assert_close(ocr, single)
    assert not torch.allclose(aux, single)
    with pytest.raises(ValueError, match="TEST.OUTPUT_INDEX 2 does not pick one of the model's 2"):
        Predictor(TinySegModel(outputs=2), K, output_index=2)(image)


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


def test_scaled_size_keeps_the_aspect_ratio():
    assert scaled_size(1024, 2048, 1024) == (512, 1024)
    assert scaled_size(37, 53, 27) == (19, 27)  # 18.85 rounded half up
    assert scaled_size(53, 37, 80) == (80, 56)


def test_from_config_reads_the_test_settings():
    cfg = get_defaults()
    cfg.DATASET.DATASET = "lip"
    cfg.DATASET.NUM_CLASSES = 20
    cfg.TEST.IMAGE_SIZE = [473, 400]
    cfg.TEST.BASE_SIZE = 473
    cfg.TEST.SCALE_LIST = [0.75, 1.0]
    cfg.TEST.FLIP_TEST = True
    cfg.MODEL.ALIGN_CORNERS = False
    cfg.freeze()
    predictor = Predictor.from_config(cfg, TinySegModel(20), "cpu")
    assert predictor.crop_size == (400, 473)  # IMAGE_SIZE is width, height
    assert (predictor.base_size, predictor.scales, predictor.flip) == (473, [0.75, 1.0], True)
    assert predictor.num_classes == 20 and predictor.align_corners is False
    permutation = predictor.flip_channels.tolist()
    assert all(permutation[a] == b and permutation[b] == a for a, b in LIP_FLIP_PAIRS)


def test_errors_name_the_offending_value():
    model = TinySegModel()
    with pytest.raises(ValueError, match=r"flip pair \(3, 4\) is not two class indices in 0..3"):
        Predictor(model, K, flip_pairs=[(3, 4)])
    with pytest.raises(
        ValueError, match=r"output of shape \(1, 4, 2, 2\); expected \(N, 5, h, w\)"
    ):
        Predictor(model, 5)(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"got shape \(8, 8\)"):
        Predictor(model, K)(torch.randn(8, 8))
