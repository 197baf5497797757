"""TEST.RESIZE squash: every image resized to the network size whatever its aspect ratio, the
predictor run there, the probabilities resized back (the deploy zoo's evaluation)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from config import get_defaults
from inference import Predictor, SquashPredictor, predictor_from_config
from utils.errors import ConfigError

K = 4


class RecordingModel(nn.Module):
    """A 1x1 conv and an average pool (logits at 1/4 of the input size); records input shapes."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, K, 1)
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return F.avg_pool2d(self.conv(x), 4)


def config(resize, width=32, height=24, base_size=2048, scales="1.0"):
    cfg = get_defaults()
    cfg.DATASET.NUM_CLASSES = K
    cfg.TEST.IMAGE_SIZE = [width, height]
    cfg.TEST.BASE_SIZE = base_size
    cfg.TEST.SCALE_LIST = [float(s) for s in scales.split(",")]
    cfg.TEST.RESIZE = resize
    cfg.MODEL.ALIGN_CORNERS = False
    cfg.freeze()
    return cfg


@pytest.mark.parametrize("image_size", [(40, 100), (100, 40), (24, 32), (7, 9)])
def test_squash_runs_the_network_size_once_and_resizes_back(image_size):
    """Whatever the image's aspect ratio and TEST.BASE_SIZE, the model sees one input of the
    network size (TEST.IMAGE_SIZE 32x24 = w x h); the result equals the plain computation."""
    model = RecordingModel().eval()
    predictor = predictor_from_config(config("squash"), model, "cpu")
    assert isinstance(predictor, SquashPredictor)
    image = torch.randn(1, 3, *image_size, generator=torch.Generator().manual_seed(1))
    probabilities = predictor(image)

    assert model.shapes == [(1, 3, 24, 32)]
    assert probabilities.shape == (1, K, *image_size)
    squashed = F.interpolate(image, size=(24, 32), mode="bilinear", align_corners=False)
    with torch.no_grad():
        logits = F.interpolate(model(squashed), size=(24, 32), mode="bilinear")
    expected = F.interpolate(logits.softmax(1), size=image_size, mode="bilinear")
    torch.testing.assert_close(probabilities, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(predictor(image[0]), expected[0], rtol=1e-5, atol=1e-6)


def test_keep_mode_is_the_predictor_with_its_aspect_and_windows():
    model = RecordingModel().eval()
    cfg = config("keep", base_size=100, scales="1.0,1.5")
    predictor = predictor_from_config(cfg, model, "cpu")
    assert type(predictor) is Predictor
    predictor(torch.randn(1, 3, 40, 100))
    # aspect kept: scale 1 (long side 100) whole, as the cityscapes policy runs scales <= 1;
    # scale 1.5 (60x150) in windows of 24x32, never the whole image
    assert model.shapes[0] == (1, 3, 40, 100)
    assert len(model.shapes) > 2 and all(shape[2:] == (24, 32) for shape in model.shapes[1:])


def test_unknown_resize_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="TEST.RESIZE is 'stretch'; expected one of keep, squash"):
        predictor_from_config(config("stretch"), RecordingModel(), "cpu")


def test_squash_scores_are_its_probabilities_and_resize_is_the_predictors():
    """tools/test.py takes `scores` and `resize`: in squash mode the probabilities at the image
    size (the deploy zoo's computation), resized as the inner predictor resizes."""
    model = RecordingModel().eval()
    predictor = predictor_from_config(config("squash", scales="0.75,1.0"), model, "cpu")
    image = torch.randn(1, 3, 40, 100, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        scores = predictor.scores(image)
        torch.testing.assert_close(scores, predictor(image))
    maps = torch.rand(1, K, 5, 7)
    torch.testing.assert_close(
        predictor.resize(maps, (9, 4)), predictor.predictor.resize(maps, (9, 4))
    )
