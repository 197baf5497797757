"""tools/benchmark.py's inference timing modes (bench.latency, bench.allocator_ab,
bench.multiscale) on a tiny model: the tables they print."""

import importlib.util

import cv2
import numpy as np
import pytest
import torch

import datasets
from bench import latency, multiscale, timing
from config import load_config
from helpers.model_specs import tiny_config
from helpers.tools import load_tool
from models import build_model

benchmark = load_tool("benchmark")


@pytest.fixture
def tiny_yaml(tmp_path):
    cfg = tiny_config(
        "seg_hrnet", 5, "TEST.IMAGE_SIZE", "96,64", "TEST.BASE_SIZE", "96"
    )  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(cfg.dump())
    return str(path)


def table_rows(text):
    return [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")][1:]


def test_speed_table_compares_every_path_with_eager(tiny_yaml, capsys):
    modes = ["eager", "exact", "fast", "cl", "cl-bf16"]
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        modes.append("onnx-fp32")
    benchmark.main(
        ["--speed", "--cfg", tiny_yaml, "--size", "64", "96", "--repeats", "2", "--modes", *modes]
    )
    printed = capsys.readouterr().out
    rows = table_rows(printed)
    assert [r[3].strip() for r in rows] == [latency.LABELS[m] for m in modes]
    eager, exact = rows[0], rows[1]
    assert eager[9].strip() == eager[10].strip() == "1.00x" and eager[11].strip() == "100.00%"
    assert exact[11].strip() == "100.00%"
    assert rows[3][11].strip() == "100.00%"  # channels_last alone: fp32 as well
    for row in rows:  # median, min, max
        median, fastest, slowest = (float(row[k]) for k in (4, 5, 6))
        assert fastest <= median <= slowest
    assert "other processes used" in printed.splitlines()[-1] or "WARNING" in printed
    assert printed.splitlines()[0] == timing.machine_line()


def test_multiscale_original_loop_and_predictor_predict_the_same(tiny_yaml, capsys):
    benchmark.main(["--multiscale", "--cfg", tiny_yaml, "--size", "64", "96", "--rounds", "1"])
    out = capsys.readouterr().out
    # 0.5-1.0 whole; 1.25-1.75: 2 x 2 anchored windows of 64x96 each
    assert "15 passes (3 whole images) x 2 flips" in out
    rows = table_rows(out)
    assert [r[0].strip() for r in rows] == [
        multiscale.ORIGINAL,
        "the same loop with set_allocator_options",
        "Predictor, eager fp32 model",
        "Predictor, exact model (`--exact`)",
        "Predictor, fast model (the default)",
    ]
    same = [float(r[3].strip().rstrip("%")) for r in rows]
    assert same[:2] == [100.0, 100.0]  # the glibc-default subprocess computes the same
    assert min(same[2:4]) >= 99.9  # fp32 paths: the original's argmax up to float rounding
    assert rows[0][2].strip() == "1.00x"


def test_allocator_runs_each_case_in_its_own_process(tiny_yaml, capsys):
    benchmark.main(
        ["--allocator", "--cfg", tiny_yaml, "--size", "64", "96", "--repeats", "1", "--rounds", "1"]
    )
    rows = table_rows(capsys.readouterr().out)
    assert [r[1].strip() for r in rows] == [latency.LABELS["eager"], latency.LABELS["fast"]]
    # for eager, "vs the original code" is its own allocator speed-up
    assert rows[0][5].strip() == rows[0][4].strip() and rows[1][5].strip().endswith("x")


def write_custom_dataset(root, num_classes, size):
    """colorMap.txt, three training and two validation images (each its own colour), labels."""
    (root / "colorMap.txt").write_text(
        "".join(f"class{k} {k} {40 * k} {40 * k} {40 * k}\n" for k in range(num_classes))
    )
    lists = {"train.lst": [], "val.lst": []}
    for i in range(5):
        image = np.full((*size, 3), 40 * i, np.uint8)
        label = np.full(size, i % num_classes, np.uint8)
        cv2.imwrite(str(root / f"{i}.png"), image)
        cv2.imwrite(str(root / f"{i}_label.png"), label)
        lists["train.lst" if i < 3 else "val.lst"].append(f"{i}.png {i}_label.png\n")
    for name, lines in lists.items():
        (root / name).write_text("".join(lines))


def test_speed_with_weights_times_a_test_image_and_calibrates_on_training_images(
    tiny_yaml, tmp_path, capsys
):
    write_custom_dataset(tmp_path, 5, (32, 48))
    data = [
        "DATASET.DATASET", "custom", "DATASET.ROOT", str(tmp_path),
        "DATASET.COLOR_MAP", str(tmp_path / "colorMap.txt"),
        "DATASET.TRAIN_SET", "train.lst", "DATASET.TEST_SET", "val.lst",
    ]  # fmt: skip
    cfg = load_config(tiny_yaml, data)
    pth = tmp_path / "model.pth"
    torch.save(build_model(cfg, pretrained=False).state_dict(), pth)
    x, calibration = latency.speed_inputs(cfg, str(pth), (64, 96))
    torch.testing.assert_close(x, next(datasets.list_inputs(cfg, "val.lst", 1, (64, 96))))
    torch.testing.assert_close(
        list(calibration), list(datasets.list_inputs(cfg, "train.lst", 3, (64, 96)))
    )
    benchmark.main(
        ["--speed", "--cfg", tiny_yaml, "--modes", "eager", "exact", "--pth", str(pth),
         "--size", "64", "96", "--repeats", "1", *data]
    )  # fmt: skip
    rows = table_rows(capsys.readouterr().out)
    assert [r[3].strip() for r in rows] == [latency.LABELS[m] for m in ("eager", "exact")]
    assert rows[1][11].strip() == "100.00%"
