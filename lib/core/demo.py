"""The train -> evaluate -> predict cycle of `tools/demo.py`, through the same code as real runs."""

import logging
from pathlib import Path

import cv2
import numpy as np

import datasets
import models
from core.data import eval_loader
from core.function import format_scores, predict_dataset
from core.predictor import Predictor
from core.trainer import Trainer
from utils.checkpoint import FINAL
from utils.metrics import segmentation_scores
from utils.visualize import colorize, overlay, save_palette_png, write_image

logger = logging.getLogger(__name__)


def evaluate_and_draw(cfg, dist, weights, out_dir):
    """Evaluate `weights` on DATASET.TEST_SET and write, per image, the class map (palette PNG),
    the colour prediction and an overlay on the image. Returns the scores."""
    model = models.build_model(cfg, pretrained=False)
    models.load_weights(model, weights)
    model.to(dist.device).eval()
    dataset = datasets.build_dataset(cfg, "val")
    loader = eval_loader(dataset, 1, 0, False, dist.world_size, dist.rank, cfg.TRAIN.IGNORE_LABEL)
    images = {sample.name: sample.image for sample in dataset.samples}
    palette = dataset.palette()
    out_dir = Path(out_dir)

    def save(class_map, name, size):
        save_palette_png(out_dir / "classes" / f"{name}.png", class_map, palette)
        write_image(out_dir / "color" / f"{name}.png", colorize(class_map, palette))
        image = cv2.cvtColor(cv2.imread(str(images[name])), cv2.COLOR_BGR2RGB)
        write_image(out_dir / "overlay" / f"{name}.png", overlay(image, class_map, palette))

    confusion = predict_dataset(
        Predictor.from_config(cfg, model, dist.device),
        loader,
        cfg.DATASET.NUM_CLASSES,
        cfg.TRAIN.IGNORE_LABEL,
        save=save,
        show_progress=dist.is_main,
    )
    scores = segmentation_scores(confusion)
    logger.info("\n%s", format_scores(scores, dataset.class_names))
    np.save(out_dir / "confusion_matrix.npy", confusion)
    return scores


def run_demo(cfg, dist, output_dir, tensorboard_dir):
    """Train on the demo data, then evaluate and draw the predictions; returns the scores."""
    Trainer(cfg, dist, output_dir, tensorboard_dir).train()
    return evaluate_and_draw(cfg, dist, output_dir / FINAL, output_dir / "predictions")
