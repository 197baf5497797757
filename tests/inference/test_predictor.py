"""The predictor against a transcription of the original `multi_scale_inference` methods."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from config import get_defaults
from datasets import IMAGENET_MEAN, IMAGENET_STD
from datasets.lip import FLIP_PAIRS
from helpers.original_prediction import BLACK, original_multi_scale
from inference import Predictor, resize_bilinear
from utils.errors import ConfigError

K = 4


class TinySegModel(nn.Module):
    """A 3x3 conv and an average pool: logits at 1/4 of the input size; records input shapes."""

    def __init__(self, num_classes=K, outputs=1):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, num_classes, 3, padding=1)
        nn.init.normal_(self.conv.weight, std=1.0)
        self.outputs = outputs
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        logits = F.avg_pool2d(self.conv(x), 4, ceil_mode=True)
        if self.outputs == 1:
            return logits
        return [logits * 0.5 + 1.0] * (self.outputs - 1) + [logits]


# -- geometries: (image size, base size, crop, scales) ------------------------------------------

# Cityscapes 1024x2048 / 16: 0.5 and 1.0 whole, 1.75 in 2 x 2 anchored windows
CITYSCAPES_LIKE = ((64, 128), 128, (64, 128), (0.5, 1.0, 1.75))
# PASCAL-Context 375x500 / 8, base 520 / 10, crop 480 / 10: 0.5 padded to the crop; 1.0 padded
# to 48x52, 1 x 2 windows; 1.75 (68x91) 2 x 3 windows, the last ones padded
PASCAL_LIKE = ((47, 62), 52, (48, 48), (0.5, 1.0, 1.75))
# the same for the Cityscapes policy with a crop that holds the scales <= 1 (39x52)
PASCAL_LIKE_WIDER = ((47, 62), 52, (52, 52), (0.5, 1.0, 1.75))


def normalised_image(size, seed=0):
    """A smooth random image, normalised as the datasets normalise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (size[0] // 8 + 2, size[1] // 8 + 2, 3)).astype(np.uint8)
    image = cv2.resize(coarse, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    normalised = (image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(normalised.astype(np.float32).transpose(2, 0, 1).copy())[None]


@pytest.mark.parametrize(
    "policy, geometry",
    [
        ("base", CITYSCAPES_LIKE),
        ("base", PASCAL_LIKE),
        ("cityscapes", CITYSCAPES_LIKE),
        ("cityscapes", PASCAL_LIKE_WIDER),
        ("cityscapes", PASCAL_LIKE),  # scale 1.0 (39x52) larger than the crop: still whole
    ],
    ids=[
        "base-cityscapes",
        "base-pascal",
        "cityscapes-cityscapes",
        "cityscapes-pascal",
        "cityscapes-larger-than-crop",
    ],
)
@pytest.mark.parametrize("align_corners, max_batch", [(True, 2), (False, 1), (False, 8)])
def test_exact_path_equals_the_original_method(policy, geometry, align_corners, max_batch):
    torch.set_num_threads(1)
    size, base_size, crop, scales = geometry
    model = TinySegModel()
    image = normalised_image(size)
    predictor = Predictor(
        model,
        K,
        align_corners=align_corners,
        scales=scales,
        flip=True,
        crop_size=crop,
        base_size=base_size,
        max_batch=max_batch,
        policy=policy,
    )
    with torch.no_grad():
        expected = original_multi_scale(
            model, image, scales, True, crop, base_size, align_corners, policy, ()
        )
    expected_inputs = sorted(model.shapes)
    model.shapes.clear()
    scores = predictor.scores(image)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=0)
    assert torch.equal(scores.argmax(1), expected.argmax(1))
    # the same inputs (whole images, windows, padding sizes), batched
    ours = sorted((1, *shape[1:]) for shape in model.shapes for _ in range(shape[0]))
    assert ours == expected_inputs
    assert max(shape[0] for shape in model.shapes) <= max_batch
    probabilities = predictor(image)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(1, *size))
    assert torch.equal(probabilities.argmax(1), expected.argmax(1))


def test_lip_swaps_its_left_and_right_channels_when_flipping():
    torch.set_num_threads(1)
    model = TinySegModel(num_classes=20)
    image = normalised_image((40, 30), seed=1)
    settings = dict(scales=[1.0], flip=True, crop_size=(40, 40), base_size=40)
    predictor = Predictor(model, 20, flip_pairs=FLIP_PAIRS, **settings)
    with torch.no_grad():
        swapped = original_multi_scale(
            model, image, [1.0], True, (40, 40), 40, False, "base", FLIP_PAIRS
        )
        plain = original_multi_scale(model, image, [1.0], True, (40, 40), 40, False, "base", ())
    torch.testing.assert_close(predictor.scores(image), swapped, rtol=1e-5, atol=0)
    assert not torch.allclose(swapped, plain, rtol=1e-3)
    cfg = get_defaults()
    cfg.DATASET.DATASET, cfg.DATASET.NUM_CLASSES = "lip", 20
    cfg.TEST.FLIP_TEST = True
    lip = Predictor.from_config(cfg, model, "cpu")
    assert lip.policy == "base"
    permutation = lip.flip_channels.tolist()
    assert all(permutation[a] == b and permutation[b] == a for a, b in FLIP_PAIRS)


@pytest.mark.parametrize(
    "dataset, policy",
    [
        ("cityscapes", "cityscapes"),
        ("urbanisation", "cityscapes"),
        ("daodixian_seg", "cityscapes"),
        ("lip", "base"),
        ("pascal_ctx", "base"),
        ("ade20k", "base"),
        ("cocostuff", "base"),
        ("custom", "base"),
        ("panorama", "base"),
    ],
)
def test_each_dataset_defaults_to_its_original_policy(dataset, policy):
    cfg = get_defaults()
    cfg.DATASET.DATASET, cfg.DATASET.NUM_CLASSES = dataset, 20
    assert Predictor.from_config(cfg, TinySegModel(), "cpu").policy == policy
    cfg.TEST.POLICY = "sliding"
    assert Predictor.from_config(cfg, TinySegModel(), "cpu").policy == "sliding"


def test_cityscapes_policy_runs_scales_up_to_1_whole_as_the_original():
    """With a base size (tools/test.py) a scale <= 1 runs whole even when it is larger than the
    crop, as the original; an image at its own size (the inference API) runs in windows then,
    so no input exceeds the crop, and one that fits still runs whole."""
    model = TinySegModel()
    crop = (32, 48)
    scales = [0.5, 1.0, 1.5]
    image = normalised_image((80, 128))
    Predictor(model, K, scales=scales, crop_size=crop, base_size=128, policy="cityscapes")(image)
    # 0.5: 40x64 and 1.0: 80x128 whole; 1.5: 120x192 in 4 x 4 anchored windows of 32x48
    assert [s[2:] for s in model.shapes[:2]] == [(40, 64), (80, 128)]
    assert {s[2:] for s in model.shapes[2:]} == {crop} and sum(s[0] for s in model.shapes) == 18
    model.shapes.clear()
    own_size = Predictor(model, K, scales=[0.5, 1.0], crop_size=crop, policy="cityscapes")
    own_size(image)  # 0.5: 40x64 and 1.0: 80x128 exceed 32x48
    assert all(s[2] <= crop[0] and s[3] <= crop[1] for s in model.shapes)
    assert sum(s[0] for s in model.shapes) == 2 * 2 + 3 * 3  # anchored windows of 32x48
    model.shapes.clear()
    Predictor(model, K, scales=[1.0], crop_size=(80, 128), policy="cityscapes")(image)
    assert model.shapes == [(1, 3, 80, 128)]


def test_sliding_policy_never_pads_and_never_exceeds_the_crop():
    model = TinySegModel()
    predictor = Predictor(
        model, K, scales=[0.5, 1.5], flip=True, crop_size=(24, 32), base_size=60, policy="sliding"
    )
    probabilities = predictor(normalised_image((45, 60)))
    assert probabilities.shape == (1, K, 45, 60)
    # 0.5: 23x30 whole (smaller than the crop, unpadded); 1.5: 68x90, windows of exactly 24x32
    assert {s[2:] for s in model.shapes} == {(23, 30), (24, 32)}


def test_pad_to_crop_pads_every_input_to_the_crop():
    model = TinySegModel()
    predictor = Predictor(
        model, K, scales=[0.5, 1.0], crop_size=(32, 48), base_size=64, policy="cityscapes",
        pad_to_crop=True,
    )  # fmt: skip
    predictor(normalised_image((32, 64)))
    assert {s[2:] for s in model.shapes} == {(32, 48)}


def test_resize_bilinear_is_opencvs_inter_linear():
    rng = np.random.default_rng(0)
    for (h, w), (new_h, new_w) in [((1024, 2048), (768, 1536)), ((37, 53), (19, 27)),
                                   ((100, 60), (175, 105)), ((64, 128), (32, 64))]:  # fmt: skip
        image = rng.standard_normal((h, w, 3)).astype(np.float32)
        expected = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        got = resize_bilinear(torch.from_numpy(image.transpose(2, 0, 1))[None], (new_h, new_w))
        np.testing.assert_allclose(got[0].numpy().transpose(1, 2, 0), expected, atol=2e-6)


def test_batch_equals_images_one_by_one_and_single_image_drops_the_batch_axis():
    torch.set_num_threads(1)
    model = TinySegModel()
    images = torch.cat([normalised_image((29, 21), seed) for seed in range(2)])
    predictor = Predictor(model, K, scales=[1.0, 1.25], flip=True, crop_size=(16, 16), max_batch=4)
    batch = predictor(images)
    for i in range(2):
        torch.testing.assert_close(batch[i], predictor(images[i]), rtol=1e-5, atol=1e-6)
    assert predictor(images[0]).shape == (K, 29, 21)


def test_flip_and_windows_share_forward_passes():
    model = TinySegModel()
    image = normalised_image((20, 40))  # crop 16x32, stride 10x21: 2 x 2 windows, 8 with flips
    Predictor(model, K, flip=True, crop_size=(16, 32), max_batch=8)(image)
    assert [s[0] for s in model.shapes] == [8]
    model.shapes.clear()
    Predictor(model, K, flip=True, crop_size=None, max_batch=8)(image)
    assert model.shapes == [(2, 3, 20, 40)]  # whole image and its mirror


def test_with_sizes_is_a_copy_with_other_sizes():
    model = TinySegModel()
    image = normalised_image((20, 40))
    settings = dict(scales=[0.75, 1.0], flip=True, flip_pairs=[(0, 1)])
    windows = Predictor(model, K, crop_size=(16, 16), base_size=48, **settings)
    whole = windows.with_sizes(crop_size=None, base_size=None)
    assert (windows.crop_size, windows.base_size) == ((16, 16), 48)  # the original is unchanged
    torch.testing.assert_close(whole(image), Predictor(model, K, **settings)(image))
    with pytest.raises(ConfigError, match=r"crop \(TEST.IMAGE_SIZE, width height\) must be two"):
        windows.with_sizes((16,), None)


def test_output_index_picks_the_main_output_of_a_list():
    image = normalised_image((24, 24))
    single = Predictor(TinySegModel(), K, crop_size=(16, 16))(image)
    ocr = Predictor(TinySegModel(outputs=2), K, output_index=-1, crop_size=(16, 16))(image)
    aux = Predictor(TinySegModel(outputs=2), K, output_index=0, crop_size=(16, 16))(image)
    torch.testing.assert_close(ocr, single)
    assert not torch.allclose(aux, single)
    with pytest.raises(ValueError, match="TEST.OUTPUT_INDEX 2 does not pick one of the model's 2"):
        Predictor(TinySegModel(outputs=2), K, output_index=2)(image)


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
    torch.testing.assert_close(predictor.pad_value, torch.tensor(BLACK, dtype=torch.float32))


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
    with pytest.raises(ConfigError, match="TEST.POLICY is 'tiles'; expected one of base, "):
        Predictor(model, K, policy="tiles")


def test_logits_beyond_float32_exp_keep_the_originals_argmax():
    """Logits above 88.7 overflow float32's exp in the original's sum; the predictor shifts
    the sum and gives the argmax and probabilities of the same sum in float64."""
    torch.set_num_threads(1)
    model = TinySegModel()
    model.conv.weight.data *= 10  # logits up to 110
    image = normalised_image((47, 62), seed=2)
    settings = dict(scales=(0.5, 1.0, 1.75), flip=True, crop=(48, 48), base_size=52)
    predictor = Predictor(
        model, K, scales=settings["scales"], flip=True, crop_size=(48, 48), base_size=52
    )
    probabilities = predictor(image)
    with torch.no_grad():
        original = original_multi_scale(model, image, align_corners=False, **settings)
        exact = original_multi_scale(
            model.double(), image.double(), align_corners=False, **settings
        )
    assert torch.isinf(original).any()  # what the original computed in float32
    assert torch.isfinite(probabilities).all()
    assert (probabilities.argmax(1) == exact.argmax(1)).float().mean() > 0.999
    torch.testing.assert_close(
        probabilities.double(), exact / exact.sum(1, keepdim=True), rtol=0, atol=1e-4
    )
