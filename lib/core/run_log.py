"""What a training run records for people and tools besides its checkpoints: the log lines,
TensorBoard events and `metrics.jsonl` in the run folder (rank 0 only).

Per logged step: loss and the learning rate of every parameter group. Per validation: loss,
mIoU, per-class IoU under the class names (absent classes marked), the confusion matrix and a
few validation images with their label and prediction over them, as pictures. The config once
per run.

metrics.jsonl holds one JSON object per line, `kind` "train" or "val":
  {"kind": "train", "epoch": 1, "iteration": 20, "iterations": 20, "step": 20,
   "lr": {"backbone": 0.0099, "head": 0.0099}, "loss": 0.81, "time": 1700000000.0}
  {"kind": "val", "epoch": 1, "step": 20, "loss": 0.62, "mIoU": 0.41, "pixel_acc": 0.9,
   "mean_acc": 0.5, "best_mIoU": 0.41, "IoU": {"background": 0.9, ...}, "absent": [...], ...}
`epoch` counts from 1 (the epoch just trained), `iteration` from 1 within it, `step` is the
number of optimizer steps since the start of the run.
"""

import json
import logging
import re
import time
from pathlib import Path

import numpy as np

from utils.charts import confusion_figure, figure_to_rgb
from utils.errors import UserError
from utils.metrics import format_scores
from utils.visualize import label_and_prediction

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
SAMPLE_IMAGES = 4


def learning_rates(optimizer):
    """{group name: learning rate} of the parameter groups (a group without `name`: its index)."""
    return {str(g.get("name", i)): g["lr"] for i, g in enumerate(optimizer.param_groups)}


class RunLog:
    """Log lines, TensorBoard events (`tensorboard_dir`, optional) and metrics.jsonl
    (`run_dir`) of one training run; a no-op except for log lines when `enabled` is False
    (ranks other than 0)."""

    def __init__(self, run_dir, tensorboard_dir, class_names, palette, ignore_label, enabled=True):
        self.class_names = list(class_names)
        self.palette = palette
        self.ignore_label = ignore_label
        self.enabled = enabled
        self.writer = None
        self.metrics = None
        self.samples = []
        if not enabled:
            return
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = open(run_dir / METRICS_FILE, "a", encoding="utf-8")

    def _record(self, record):
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()

    def config(self, text, step):
        """The run's config as TensorBoard text (once per run, at its first step)."""
        if self.writer is not None:
            # four leading spaces: TensorBoard renders text as Markdown, this keeps the YAML
            self.writer.add_text(
                "config", "\n".join("    " + line for line in text.split("\n")), step
            )

    def train_step(self, epoch, end_epoch, iteration, iterations, step, lrs, loss):
        """A log line, TensorBoard scalars and a metrics.jsonl line of a logged step; `loss`:
        the mean over the epoch so far (as the original logged it), `lrs`: {group name:
        learning rate}; `epoch`, `iteration` count from 1."""
        if not self.enabled:
            return
        logger.info(
            "Epoch: [%d/%d] Iter:[%d/%d], lr: [%s], Loss: %.6f",
            epoch, end_epoch, iteration, iterations,
            ", ".join(f"{lr:.6g}" for lr in lrs.values()), loss,
        )  # fmt: skip
        if self.writer is not None:
            self.writer.add_scalar("train_loss", loss, step)
            for name, lr in lrs.items():
                self.writer.add_scalar(f"learning_rate/{name}", lr, step)
        record = {"kind": "train", "epoch": epoch, "iteration": iteration}
        record.update(iterations=iterations, step=step, lr=lrs, loss=loss, time=time.time())
        self._record(record)

    def keep_samples(self, images, labels, predictions):
        """`validate`'s per-batch hook: keeps the first SAMPLE_IMAGES (uint8 RGB image, label,
        prediction) of this validation for the pictures."""
        if not self.enabled or len(self.samples) >= SAMPLE_IMAGES:
            return
        for image, label, prediction in zip(images, labels, predictions, strict=True):
            if len(self.samples) < SAMPLE_IMAGES:
                self.samples.append(
                    (
                        image.permute(1, 2, 0).cpu().numpy().astype(np.uint8),
                        label.cpu().numpy(),
                        prediction.cpu().numpy(),
                    )
                )

    def validation(self, epoch, step, loss, scores, best_miou):
        """Log lines (per-class IoU with names), TensorBoard scalars and pictures and a
        metrics.jsonl line of one validation (`scores`: `validate`'s, with the confusion
        matrix); `epoch` from 1."""
        samples, self.samples = self.samples, []
        logger.info(
            "Loss: %.3f, MeanIU: %.4f, Best_mIoU: %.4f (validation after epoch %d)",
            loss, scores["mIoU"], best_miou, epoch,
        )  # fmt: skip
        logger.info("\n%s", format_scores(scores, self.class_names))
        if not self.enabled:
            return
        absent = [n for n, s in zip(self.class_names, scores["support"], strict=True) if s == 0]
        if self.writer is not None:
            self.writer.add_scalar("valid_loss", loss, epoch)
            self.writer.add_scalar("valid_mIoU", scores["mIoU"], epoch)
            for name, value in zip(self.class_names, scores["IoU"], strict=True):
                self.writer.add_scalar(f"valid_IoU/{tag(name)}", value, epoch)
            picture = figure_to_rgb(confusion_figure(scores["confusion"], self.class_names))
            self.writer.add_image("valid_confusion_matrix", picture, epoch, dataformats="HWC")
            for index, (image, label, prediction) in enumerate(samples):
                picture = label_and_prediction(
                    image, label, prediction, self.palette, self.ignore_label
                )
                self.writer.add_image(f"valid_images/{index}", picture, epoch, dataformats="HWC")
            self.writer.flush()
        record = {"kind": "val", "epoch": epoch, "step": step, "loss": loss}
        record.update({k: float(scores[k]) for k in ("mIoU", "pixel_acc", "mean_acc")})
        record["best_mIoU"] = best_miou
        record["IoU"] = dict(zip(self.class_names, map(float, scores["IoU"]), strict=True))
        record["absent"] = absent
        record["time"] = time.time()
        self._record(record)

    def epoch_loss(self, epoch, loss):
        """The mean training loss of an epoch (`epoch` from 1) as a TensorBoard scalar."""
        if self.writer is not None:
            self.writer.add_scalar("train_loss_epoch", loss, epoch)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        if self.metrics is not None:
            self.metrics.close()


def tag(name):
    """A class name as a TensorBoard tag component (no slashes, no spaces)."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "class"


TRAIN_LINE = re.compile(
    r"Epoch: \[(\d+)/\d+\] Iter:\[(\d+)/(\d+)\],(?P<time> Time: [\d.]+,)? "
    r"lr: (?P<lr>\[[^\]]*\]|\S+), Loss: (?P<loss>\S+)"
)
VAL_LINE = re.compile(
    r"Loss: (?P<loss>\S+), MeanIU: *(?P<miou>[\d.]+), Best_mIoU: *[\d.]+"
    r"(?: \(validation after epoch (?P<epoch>\d+)\))?"
)


def parse_log(path):
    """metrics.jsonl-style records of a training log: this project's or the original code's
    (whose epochs and iterations count from 0, told apart by its `Time:` field). A validation
    line without its epoch belongs to the last epoch of a training line."""
    records, epoch = [], 0
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        match = TRAIN_LINE.search(line)
        if match:
            offset = 1 if match["time"] else 0
            epoch, iteration = int(match[1]) + offset, int(match[2]) + offset
            lrs = [float(v) for v in match["lr"].strip("[]").split(",") if v.strip()]
            records.append(
                {
                    "kind": "train",
                    "epoch": epoch,
                    "iteration": iteration,
                    "iterations": int(match[3]),
                    "lr": {str(i): lr for i, lr in enumerate(lrs)},
                    "loss": float(match["loss"]),
                }
            )
            continue
        match = VAL_LINE.search(line)
        if match:
            at = int(match["epoch"]) if match["epoch"] else epoch
            records.append(
                {
                    "kind": "val",
                    "epoch": at,
                    "loss": float(match["loss"]),
                    "mIoU": float(match["miou"]),
                }
            )
    return records


def read_metrics(path):
    """The records of a metrics.jsonl file (a line cut short by a killed run is skipped). Of
    training or validation records of one step, the last is kept: a resumed run redoes the steps
    after its checkpoint (and the validation of a checkpointed epoch) and logs them again."""
    records = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = record.get("kind")
        key = (kind, record.get("step")) if kind in ("train", "val") else number
        records.pop(key, None)  # the redone step goes where it was logged again
        records[key] = record
    return list(records.values())


def read_run(path):
    """Records of a run: a run folder (its metrics.jsonl, else its newest *_train.log), a
    metrics.jsonl file or a training log."""
    path = Path(path)
    if path.is_dir():
        if (path / METRICS_FILE).is_file():
            return read_metrics(path / METRICS_FILE)
        logs = sorted(path.glob("*_train.log"), key=lambda p: p.stat().st_mtime)
        if not logs:
            raise UserError(f"run folder {path} holds neither {METRICS_FILE} nor a *_train.log")
        return parse_log(logs[-1])
    if not path.is_file():
        raise UserError(f"{path} does not exist (expected a run folder, a {METRICS_FILE} or a log)")
    return read_metrics(path) if path.suffix == ".jsonl" else parse_log(path)


def export_tensorboard_image(logdir, tag, path):
    """Write the last image logged under `tag` in the TensorBoard events below `logdir` (the
    newest run folder holding the tag) to `path`, as TensorBoard shows it; returns `path`."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    events = EventMultiplexer(size_guidance={"images": 0})
    events.AddRunsFromDirectory(str(logdir))
    events.Reload()
    found = []
    for run, tags in events.Runs().items():
        if tag in tags.get("images", []):
            found.append(events.Images(run, tag)[-1])
    if not found:
        raise UserError(f"no TensorBoard image tagged {tag!r} below {logdir}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(max(found, key=lambda image: image.wall_time).encoded_image_string)
    return path
