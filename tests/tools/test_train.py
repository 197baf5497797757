"""tools/train.py end to end: outputs and 2-process DDP on CPU (resume: test_resume.py)."""

import os
import re
import subprocess
import sys

import pytest
import torch

import models
from config import load_config
from core.run_log import read_metrics
from core.trainer import Trainer
from helpers.model_specs import TINY_LITE
from helpers.paths import REPO
from helpers.tiny_run import output_dir, write_tiny_run
from helpers.tools import free_port, load_tool
from utils.distributed import DistInfo

train = load_tool("train")

ENV = {**os.environ, "PYTHONPATH": str(REPO / "lib"), "OMP_NUM_THREADS": "1"}


def torchrun(cfg_file, *opts, timeout=300):
    """tools/train.py under torchrun with 2 gloo processes on the CPU; asserts it succeeds."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port()}", str(REPO / "tools/train.py"), "--cfg", str(cfg_file),
        "--device", "cpu", *opts,
    ]  # fmt: skip
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]


def weights(path):
    data = torch.load(path, weights_only=True)
    return data.get("state_dict", data)


def test_training_writes_the_original_files_which_load_strictly(tmp_path):
    cfg_file = write_tiny_run(tmp_path, END_EPOCH=2)
    assert train.main(["--cfg", str(cfg_file), "--device", "cpu"]) == 0
    out = output_dir(tmp_path)
    checkpoint = torch.load(out / "checkpoint.pth.tar", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["iteration"] == 0
    assert {"best_mIoU", "optimizer", "seed", "global_batch"} <= set(checkpoint)
    final = weights(out / "final_state.pth")
    assert all(key.startswith("model.") for key in final)
    assert (out / "best.pth").is_file()
    assert list(out.glob("tiny_*_train.log"))
    assert list((tmp_path / "log").rglob("events.out.tfevents.*"))
    model = models.build_model(load_config(cfg_file))
    models.load_weights(model, out / "final_state.pth")
    assert torch.equal(model.last_layer[3].weight, final["model.last_layer.3.weight"])


def test_unknown_option_fails_naming_the_key(tmp_path):
    cfg_file = write_tiny_run(tmp_path)
    with pytest.raises(ValueError, match="TRAIN.LRR.*TRAIN.LR"):
        train.main(["--cfg", str(cfg_file), "TRAIN.LRR", "0.1"])


def test_legacy_launcher_flags_are_accepted():
    for flag in ("--local_rank=1", "--local-rank=1"):
        assert train.parse_args(["--cfg", "x.yaml", flag]).local_rank == 1


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    """One step of torchrun --nproc_per_node=2 (batch 1 each) = one process with batch 2.

    On the CPU BatchNorm statistics are per process (SyncBatchNorm needs CUDA), so every
    training image is the same picture: then both runs see the same statistics and the test
    checks the gradient averaging, the sampler and the learning rate.
    """
    # 64 px: the 1/32 branch keeps 2x2 values, enough for BatchNorm on a batch of one.
    common = {"END_EPOCH": 1, "MULTI_SCALE": False, "FLIP": False, "SHUFFLE": False}
    single = write_tiny_run(tmp_path / "one", num_train=2, size=64, identical=True, **common)
    assert (
        train.main(["--cfg", str(single), "--device", "cpu", "TRAIN.BATCH_SIZE_PER_GPU", "2"]) == 0
    )

    double = write_tiny_run(tmp_path / "two", num_train=2, size=64, identical=True, **common)
    torchrun(double, "TRAIN.BATCH_SIZE_PER_GPU", "1")

    one = weights(output_dir(tmp_path / "one") / "final_state.pth")
    two = weights(output_dir(tmp_path / "two") / "final_state.pth")
    initial = models.build_model(load_config(single)).state_dict()
    moved = 0
    for key, value in one.items():
        assert torch.allclose(two[key], value, rtol=1e-4, atol=1e-6), key
        moved += not torch.equal(value, initial[key.removeprefix("model.")])
    assert moved > 0


def test_a_process_without_validation_images_does_not_stall_the_job(tmp_path):
    """One validation image for two processes: rank 1 validates nothing, and the job still
    runs its second epoch (validation runs the unwrapped model, no collective per batch)."""
    cfg_file = write_tiny_run(tmp_path, num_train=4, num_val=1, size=64, END_EPOCH=2)
    torchrun(cfg_file, "TRAIN.BATCH_SIZE_PER_GPU", "1")
    assert torch.load(output_dir(tmp_path) / "checkpoint.pth.tar", weights_only=True)["epoch"] == 2


LITE = "experiments/cityscapes/seg_lite_hrnet_w32.yaml"


def tiny_overrides(tmp_path):
    """Point a real experiment YAML at the tiny data, with tiny training settings."""
    root = tmp_path / "data"
    return [
        "OUTPUT_DIR", str(tmp_path / "output"), "LOG_DIR", str(tmp_path / "log"), "WORKERS", "0",
        "MODEL.PRETRAINED", "", "DATASET.DATASET", "custom", "DATASET.ROOT", str(root),
        "DATASET.COLOR_MAP", str(root / "colorMap.txt"), "DATASET.NUM_CLASSES", "4",
        "DATASET.TRAIN_SET", "train.lst", "DATASET.TEST_SET", "val.lst",
        "TRAIN.IMAGE_SIZE", "64,64", "TRAIN.BASE_SIZE", "64", "TRAIN.BATCH_SIZE_PER_GPU", "2",
        "TRAIN.END_EPOCH", "1", "TRAIN.IGNORE_LABEL", "255",
        "TEST.IMAGE_SIZE", "64,64", "TEST.BASE_SIZE", "64", "TEST.BATCH_SIZE_PER_GPU", "2",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["seg_litehrnet", "seg_hrnet_hanet"])
def test_lite_hrnet_and_hanet_train_and_test_like_any_model(tmp_path, name):
    """Through tools/train.py and tools/test.py: the fork's Lite-HRNet YAML (narrowed), and
    HRNet + HANet with the positional encoding on (on the tiny HRNet)."""
    test_tool = load_tool("test")

    tiny = write_tiny_run(tmp_path, size=64)
    if name == "seg_litehrnet":
        cfg_file, opts = REPO / LITE, [*tiny_overrides(tmp_path), *TINY_LITE]
    else:
        cfg_file, opts = tiny, ["MODEL.NAME", name, "MODEL.HANET.POS_ENCODING", "True"]
    assert train.main(["--cfg", str(cfg_file), "--device", "cpu", *opts]) == 0
    out = tmp_path / "output" / "custom" / cfg_file.stem
    assert (out / "final_state.pth").is_file()
    assert test_tool.main(["--cfg", str(cfg_file), *opts]) == 0
    assert (out / "confusion_matrix.npy").is_file()


def logged_losses(out):
    """The training losses of a run's logs (one per start), in order."""
    text = "".join(log.read_text() for log in sorted(out.glob("tiny_*_train.log")))
    return [float(v) for v in re.findall(r"Iter:\[\d+/\d+\], lr: \S+, Loss: (\S+)", text)]


FAST = ["TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", "bf16", "TRAIN.GRAD_CHECKPOINT", "True"]
TRAINING = {"END_EPOCH": 4, "OPTIMIZER": "adam", "LR": 0.01, "MULTI_SCALE": False}


def test_two_gloo_processes_validate_the_model_they_save(tmp_path):
    """Each CPU process updates its own BatchNorm statistics; validation uses rank 0's, so
    the logged validation is that of final_state.pth in one process."""
    cfg_file = write_tiny_run(tmp_path, num_train=8, num_val=4, size=64, **TRAINING)
    torchrun(cfg_file, "TRAIN.BATCH_SIZE_PER_GPU", "2", "TRAIN.EVAL_EVERY", "4")
    logged = last_validation(output_dir(tmp_path))
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    again = Trainer(load_config(str(cfg_file)), dist, tmp_path / "again")
    models.load_weights(again.net, output_dir(tmp_path) / "final_state.pth")
    again.evaluate(0)
    expected = last_validation(tmp_path / "again")
    assert logged["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    assert logged["pixel_acc"] == pytest.approx(expected["pixel_acc"], abs=1e-9)


def last_validation(run_dir):
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "val"][-1]


def test_two_gloo_processes_lower_the_loss_with_mixed_precision_and_checkpointing(tmp_path):
    cfg_file = write_tiny_run(tmp_path, num_train=8, size=64, **TRAINING)
    torchrun(cfg_file, *FAST, "TRAIN.BATCH_SIZE_PER_GPU", "2", timeout=1200)
    losses = logged_losses(output_dir(tmp_path))
    assert len(losses) == 8 and losses[-1] < 0.8 * losses[0], losses


def assert_original_layout(cfg_file, out):
    keys = [f"model.{k}" for k in models.build_model(load_config(cfg_file)).state_dict()]
    assert list(weights(out / "final_state.pth")) == keys
    assert list(weights(out / "checkpoint.pth.tar")) == keys


@pytest.mark.slow
def test_compiled_training_lowers_the_loss_keeps_the_layout_and_resumes(tmp_path):
    """TRAIN.COMPILE (with checkpointing and bf16): the files hold `model.<key>` as always and a
    compiled run resumes from them."""
    cfg_file = write_tiny_run(tmp_path, num_train=8, size=64, **TRAINING)
    compiled = ["--device", "cpu", "TRAIN.COMPILE", "True", *FAST]
    assert train.main(["--cfg", str(cfg_file), *compiled, "TRAIN.END_EPOCH", "2"]) == 0
    out = output_dir(tmp_path)
    losses = logged_losses(out)
    assert losses[-1] < 0.8 * losses[0], losses
    assert_original_layout(cfg_file, out)
    assert torch.load(out / "checkpoint.pth.tar", weights_only=True)["epoch"] == 2
    assert train.main(["--cfg", str(cfg_file), *compiled, "AUTO_RESUME", "True"]) == 0
    assert torch.load(out / "checkpoint.pth.tar", weights_only=True)["epoch"] == 4
    assert len(logged_losses(out)) == 16  # 4 epochs of 4 steps


@pytest.mark.slow
def test_two_gloo_processes_train_compiled(tmp_path):
    cfg_file = write_tiny_run(tmp_path, num_train=8, size=64, **TRAINING)
    torchrun(cfg_file, "TRAIN.COMPILE", "True", "TRAIN.BATCH_SIZE_PER_GPU", "2", timeout=1200)
    losses = logged_losses(output_dir(tmp_path))
    assert losses[-1] < 0.8 * losses[0], losses
    assert_original_layout(cfg_file, output_dir(tmp_path))
