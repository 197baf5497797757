"""What a training run records: TensorBoard events with class-named IoU, pictures and the
config; metrics.jsonl; log lines with class names; reading runs back (also original logs)."""

import json
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from core.run_log import METRICS_FILE, export_tensorboard_image, parse_log, read_run, tag
from datasets.demo_data import CLASSES
from helpers.tiny_run import output_dir
from utils.errors import UserError
from utils.image_io import read_image
from utils.metrics import ABSENT, format_scores, segmentation_scores

NAMES = [name for name, _, _ in CLASSES]


@pytest.fixture
def tiny_run(trained_tiny_run):
    return trained_tiny_run


def events(tmp_path):
    (folder,) = {p.parent for p in (tmp_path / "log").rglob("events.out.tfevents.*")}
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def test_tensorboard_has_class_named_iou_pictures_and_the_config(tiny_run):
    accumulator = events(tiny_run)
    tags = accumulator.Tags()
    assert {f"valid_IoU/{tag(n)}" for n in NAMES[:4]} <= set(tags["scalars"])
    assert {"train_loss", "valid_loss", "valid_mIoU", "learning_rate/backbone"} <= set(
        tags["scalars"]
    )
    assert [e.step for e in accumulator.Scalars("valid_mIoU")] == [1, 2]
    assert [e.step for e in accumulator.Scalars("train_loss")] == list(range(1, 9))
    assert {"valid_confusion_matrix", "valid_images/0"} <= set(tags["images"])
    picture = accumulator.Images("valid_images/0")[-1]
    assert (picture.width, picture.height) == (3 * 32 + 2 * 4, 32)  # image | label | prediction
    (config,) = accumulator.Tensors("config/text_summary")
    text = config.tensor_proto.string_val[0].decode()
    assert "NUM_CLASSES: 4" in text and "DATASET: custom" in text


def test_metrics_jsonl_has_every_logged_step_and_validation(tiny_run):
    lines = (output_dir(tiny_run) / METRICS_FILE).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    train_records = [r for r in records if r["kind"] == "train"]
    val_records = [r for r in records if r["kind"] == "val"]
    assert [(r["epoch"], r["iteration"]) for r in train_records] == [
        (e, i) for e in (1, 2) for i in (1, 2, 3, 4)
    ]
    assert [r["step"] for r in train_records] == list(range(1, 9))
    assert all(set(r["lr"]) == {"backbone"} and r["loss"] > 0 for r in train_records)
    # the poly schedule: LR falls from TRAIN.LR (0.01) over the 8 steps
    lrs = [r["lr"]["backbone"] for r in train_records]
    assert lrs[0] == pytest.approx(0.01) and lrs == sorted(lrs, reverse=True)
    assert [r["epoch"] for r in val_records] == [1, 2]
    for record in val_records:
        assert list(record["IoU"]) == NAMES[:4]
        mean = sum(record["IoU"].values()) / 4
        assert record["mIoU"] == pytest.approx(mean)
    assert read_run(output_dir(tiny_run)) == records


def test_log_lines_name_classes_and_parse_back(tiny_run):
    (log,) = output_dir(tiny_run).glob("tiny_*_train.log")
    text = log.read_text()
    for name in NAMES[:4]:
        assert f"\n{name} " in text
    parsed = parse_log(log)
    records = read_run(output_dir(tiny_run) / METRICS_FILE)
    assert [(r["kind"], r["epoch"]) for r in parsed] == [(r["kind"], r["epoch"]) for r in records]
    for got, expected in zip(parsed, records, strict=True):
        assert got["loss"] == pytest.approx(expected["loss"], abs=1e-3)
        if got["kind"] == "val":
            assert got["mIoU"] == pytest.approx(expected["mIoU"], abs=1e-4)


def test_steps_a_resumed_run_logged_again_are_read_once(tmp_path):
    lines = [
        {"kind": "train", "epoch": 1, "step": 3, "loss": 0.9},
        {"kind": "val", "epoch": 1, "step": 4, "mIoU": 0.3},
        {"kind": "train", "epoch": 2, "step": 7, "loss": 0.8},  # then killed; resumed at step 4
        {"kind": "val", "epoch": 1, "step": 4, "mIoU": 0.3},  # the checkpointed epoch's validation
        {"kind": "train", "epoch": 2, "step": 7, "loss": 0.7},
        {"kind": "train", "epoch": 2, "step": 8, "loss": 0.6},
    ]
    path = tmp_path / METRICS_FILE
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"kind": "tr')
    assert read_run(path) == [lines[0], *lines[3:]]


def test_the_original_log_format_is_read(tmp_path):
    log = tmp_path / "seg_hrnet_2020-01-01-00-00_train.log"
    log.write_text(
        "2020-01-01 00:00:01,000 Epoch: [0/2] Iter:[0/100], Time: 1.50, lr: 0.010000, "
        "Loss: 2.500000\n"
        "2020-01-01 00:00:09,000 Epoch: [0/2] Iter:[50/100], Time: 1.20, lr: [0.00955, 0.0955],"
        " Loss: 1.250000\n"
        "2020-01-01 00:01:00,000 Loss: 0.900, MeanIU:  0.4321, Best_mIoU:  0.4321\n"
        "2020-01-01 00:01:01,000 [0.1 0.2]\n"
    )
    assert read_run(tmp_path) == [
        {"kind": "train", "epoch": 1, "iteration": 1, "iterations": 100,
         "lr": {"0": 0.01}, "loss": 2.5},
        {"kind": "train", "epoch": 1, "iteration": 51, "iterations": 100,
         "lr": {"0": 0.00955, "1": 0.0955}, "loss": 1.25},
        {"kind": "val", "epoch": 1, "loss": 0.9, "mIoU": 0.4321},
    ]  # fmt: skip


def test_absent_classes_are_marked_in_the_log():
    scores = segmentation_scores([[5, 1, 0], [0, 4, 0], [0, 0, 0]])
    lines = format_scores(scores, ["sky", "road", "boat"]).splitlines()
    assert lines[2].startswith("sky ") and ABSENT not in lines[2]
    assert lines[4].startswith("boat ") and lines[4].endswith(ABSENT)


def test_a_tensorboard_image_is_exported_as_shown(tiny_run, tmp_path):
    out = export_tensorboard_image(tiny_run / "log", "valid_images/0", tmp_path / "v.png")
    picture = read_image(out, "rgb")
    assert picture.shape == (32, 3 * 32 + 2 * 4, 3)
    assert (picture[:, 32:36] == 255).all()  # the white gap after the image
    with pytest.raises(UserError, match="no TensorBoard image tagged 'nothing'"):
        export_tensorboard_image(tiny_run / "log", "nothing", tmp_path / "n.png")


def test_the_tensorboard_viewer_starts_and_lists_the_run(tiny_run):
    """`tensorboard --logdir log` (README): the command the set-up installs serves the run."""
    command = Path(sys.executable).with_name("tensorboard")
    viewer = subprocess.Popen(
        [str(command), "--logdir", str(tiny_run / "log"), "--port", "0", "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    address = []

    def watch():
        for line in viewer.stderr:
            found = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
            if found:
                address.append(found[1])
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        watcher.join(timeout=120)
        assert address, "tensorboard did not start within 120 s"
        with urllib.request.urlopen(address[0] + "data/runs", timeout=30) as answer:
            assert json.loads(answer.read()) == ["custom/seg_hrnet/tiny"]
    finally:
        viewer.terminate()
        viewer.wait(timeout=30)
