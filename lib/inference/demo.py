"""The train -> evaluate -> predict cycle of `tools/demo.py`, through the same code as real runs."""

import logging
from pathlib import Path

import datasets
from core.trainer import DEFAULT_SEED, Trainer, seed_everything
from utils.charts import comparison_figure, save_figure
from utils.checkpoint import FINAL
from utils.image_io import write_image, write_png
from utils.visualize import colorize, overlay

from .evaluation import evaluate, write_scores
from .loading import load_model

__all__ = ["evaluate_and_draw", "run_demo"]

logger = logging.getLogger(__name__)


def evaluate_and_draw(cfg, dist, weights, out_dir):
    """Evaluate `weights` on DATASET.TEST_SET and write, per image, the class map (grey PNG),
    the colour prediction, an overlay on the image and a label-vs-prediction picture; then the
    confusion matrix (.npy and chart) and the per-class IoU chart. Returns the scores."""
    model = load_model(cfg, weights, "eager", dist.device)
    dataset = datasets.build_dataset(cfg, "val")
    index = {sample.name: i for i, sample in enumerate(dataset.samples)}
    palette = datasets.palette_for(cfg)
    out_dir = Path(out_dir)

    def save(class_map, name):
        write_png(out_dir / "classes" / f"{name}.png", class_map)
        write_image(out_dir / "color" / f"{name}.png", colorize(class_map, palette))
        image, label, _, _ = dataset[index[name]]
        image = image.permute(1, 2, 0).numpy()
        write_image(out_dir / "overlay" / f"{name}.png", overlay(image, class_map, palette))
        figure = comparison_figure(
            image, label.numpy(), class_map, palette, dataset.class_names, cfg.TRAIN.IGNORE_LABEL
        )
        save_figure(figure, out_dir / "compare" / f"{name}.png")

    confusion = evaluate(
        cfg, model, "val", dataset=dataset, save=save, dist=dist, show_progress=dist.is_main
    )
    scores, _ = write_scores(confusion, dataset.class_names, out_dir)
    return scores


def run_demo(cfg, dist, output_dir, tensorboard_dir):
    """Train on the demo data, then evaluate and draw the predictions; returns the scores."""
    seed_everything(DEFAULT_SEED + dist.rank)
    Trainer(cfg, dist, output_dir, tensorboard_dir).train()
    return evaluate_and_draw(cfg, dist, output_dir / FINAL, output_dir / "predictions")
