"""tools/demo.py: the whole cycle on its synthetic data (short here; full length under -m slow)."""

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers.paths import REPO
from helpers.tools import free_port, load_tool
from utils.errors import ConfigError

demo = load_tool("demo")


def run_demo(tmp_path, capsys, *opts):
    argv = [
        "--root", str(tmp_path / "demo"), "--num-train", "16", "--num-val", "4", "--size", "64",
        "OUTPUT_DIR", str(tmp_path / "output"), "LOG_DIR", str(tmp_path / "log"), *opts,
    ]  # fmt: skip
    assert demo.main(argv) == 0
    printed = capsys.readouterr().out
    return float(re.search(r"validation mIoU (\d\.\d+)", printed).group(1)), printed


def test_demo_writes_data_weights_and_pictures(tmp_path, capsys):
    miou, printed = run_demo(tmp_path, capsys, "TRAIN.END_EPOCH", "1", "TRAIN.IMAGE_SIZE", "64,64")
    assert 0 <= miou <= 1
    root = tmp_path / "demo"
    assert len((root / "train.lst").read_text().split()) == 32  # 16 "image label" lines
    assert (root / "colorMap.txt").read_text().startswith("background 0")
    out = tmp_path / "output" / "custom" / "seg_hrnet_w18_small_v1_demo"
    for name in ("final_state.pth", "best.pth", "checkpoint.pth.tar"):
        assert (out / name).is_file()
    for kind in ("classes", "color", "overlay", "compare"):
        assert len(list((out / "predictions" / kind).glob("*.png"))) == 4
    # class-id PNGs read as the same ids by OpenCV and PIL, with a colour picture beside them
    first = sorted((out / "predictions" / "classes").glob("*.png"))[0]
    ids = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    assert ids.ndim == 2 and ids.max() < 4
    assert np.array_equal(ids, np.asarray(Image.open(first)))
    assert (out / "predictions" / "color" / first.name).is_file()
    for chart in ("confusion_matrix.png", "iou_per_class.png"):
        assert (out / "predictions" / chart).is_file()
    assert (out / "metrics.jsonl").is_file()
    assert str(out / "predictions") in printed


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (["--num-train", "0"], "--num-train 0: expected at least 8 training images"),
        (["--num-train", "4"], "--num-train 4: expected at least 8 training images"),
        (["--num-train", "2", "TRAIN.BATCH_SIZE_PER_GPU", "4"], "expected at least 4 training"),
        (["--num-val", "0"], "--num-val 0: expected at least 1 validation image"),
        (["--num-val", "-3"], "--num-val -3: expected at least 1 validation image"),
        (["--size", "8"], "--size 8: expected an image side of at least 12"),
        (["--size", "-5"], "--size -5: expected an image side of at least 12"),
    ],
)
def test_demo_rejects_unusable_counts_and_sizes_before_writing(tmp_path, opts, message):
    root = tmp_path / "demo"
    with pytest.raises(ConfigError, match=re.escape(message)):
        demo.main(["--root", str(root), *opts])
    assert not root.exists()


@pytest.mark.slow
def test_demo_reaches_the_documented_miou(tmp_path, capsys):
    argv = ["--root", str(tmp_path / "demo"), "OUTPUT_DIR", str(tmp_path / "output")]
    assert demo.main([*argv, "LOG_DIR", str(tmp_path / "log")]) == 0
    miou = float(re.search(r"validation mIoU (\d\.\d+)", capsys.readouterr().out).group(1))
    assert miou >= 0.88  # the target of mixed-precision training (README, Fast training)


@pytest.mark.slow
def test_demo_under_torchrun_writes_its_data_once_and_finishes(tmp_path):
    """Two gloo processes: rank 0 writes the data while the other waits for it."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port()}", str(REPO / "tools/demo.py"), "--device", "cpu",
        "--root", str(tmp_path / "data"), "--num-train", "8", "--num-val", "2", "--size", "32",
        "TRAIN.END_EPOCH", "1", "TRAIN.BATCH_SIZE_PER_GPU", "2", "TRAIN.IMAGE_SIZE", "32,32",
        "TEST.IMAGE_SIZE", "32,32", "TRAIN.BASE_SIZE", "32", "TEST.BASE_SIZE", "32", "WORKERS", "0",
        "OUTPUT_DIR", str(tmp_path / "out"), "LOG_DIR", str(tmp_path / "log"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len((tmp_path / "data" / "train.lst").read_text().split()) == 16
    assert "validation mIoU" in result.stdout
