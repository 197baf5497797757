"""Validation during training: the original's whole-image pass, in windows when an image is
larger than TEST.IMAGE_SIZE (the power-line fork's 3078x5472 images do not fit a GPU whole)."""

import torch

import datasets
from config import load_config
from core.criterion import build_criterion
from core.data import eval_loader
from core.train_step import TrainStep
from core.trainer import Trainer
from core.validation import ValidationPredictor, validate
from helpers.tiny_run import write_tiny_run
from utils.distributed import DistInfo


class PixelModel(torch.nn.Module):
    """Per-pixel logits (a 1x1 convolution): the same in windows as on the whole image."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 1)
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape[-2:]))
        return self.conv(x)


def test_an_image_larger_than_the_window_is_validated_in_windows(tmp_path):
    cfg = load_config(str(write_tiny_run(tmp_path, num_val=3, size=64)))
    loader = eval_loader(datasets.build_dataset(cfg, "val"), 2, 0, False, 1, 0, 255)
    model = PixelModel()
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    step = TrainStep(cfg, model, build_criterion(cfg), dist)
    whole_loss, whole = validate(ValidationPredictor(step, 4, 255, False, -1), loader)
    assert set(model.shapes) == {(64, 64)}
    model.shapes.clear()
    windows = ValidationPredictor(step, 4, 255, False, -1, window=(24, 40))
    loss, windowed = validate(windows, loader)
    assert max(h for h, _ in model.shapes) == 24 and max(w for _, w in model.shapes) == 40
    assert len(model.shapes) == 2 * 3 * 2  # 2 batches x 3 x 2 windows
    torch.testing.assert_close(windowed["IoU"], whole["IoU"])
    assert abs(loss - whole_loss) < 0.1 * whole_loss


def test_the_trainer_validates_with_its_test_window(tmp_path):
    cfg_file = write_tiny_run(tmp_path, num_val=2, size=48)
    cfg = load_config(str(cfg_file), ["TEST.IMAGE_SIZE", "[32, 24]"])
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    trainer = Trainer(cfg, dist, tmp_path / "run")
    shapes = []
    trainer.net.register_forward_pre_hook(lambda module, args: shapes.append(args[0].shape[-2:]))
    scores = trainer.evaluate(0)
    assert 0 <= scores["mIoU"] <= 1
    assert max(s[0] for s in shapes) == 24 and max(s[1] for s in shapes) == 32
