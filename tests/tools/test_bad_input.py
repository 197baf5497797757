"""Bad data, bad settings, unusable checkpoints and malicious pickles through the real tools.

Every case runs a tool's `main` the way its command line does (`utils.cli.run_tool`), and must
stop with exit status 2 and exactly one line `error: <message>` naming the file, key or value,
with no traceback, leaving every file that existed before untouched. A pickle whose
`__reduce__` runs a shell command is refused by every path that loads weights or checkpoints.
"""

import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

import models
from config import load_config
from core.train_step import build_optimizer
from helpers.paths import REPO
from helpers.tiny_run import output_dir, write_tiny_run
from helpers.tools import free_port, load_tool
from utils import checkpoint as ckpt
from utils.cli import run_tool

TOOLS = {
    name: load_tool(name)
    for name in (
        "train", "test", "pipeline", "analysisVideo", "export_onnx", "benchmark", "generate_list",
        "json2labelImg", "analysisData", "analysisResult", "convert_pascal_ctx",
        "preprocessPanorama",
    )
}  # fmt: skip
train = TOOLS["train"]
MARKER = "payload_ran"


class Payload:
    """Unpickling this runs a shell command that creates MARKER next to the file."""

    def __init__(self, folder):
        self.command = f"touch {folder / MARKER}"

    def __reduce__(self):
        return (os.system, (self.command,))


def malicious(path):
    """A .pth file that runs code when unpickled without weights_only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"w": Payload(path.parent)}, "epoch": 1}, path)
    return path


def test_the_payload_is_live(tmp_path):
    """What every loading path must refuse really runs code when loaded unsafely."""
    path = malicious(tmp_path / "evil.pth")
    torch.load(path, weights_only=False)
    assert (tmp_path / MARKER).exists()


# -- fixtures of the cases ----------------------------------------------------------------


def tiny(tmp_path, **train_keys):
    """(YAML, data root) of a tiny custom-dataset run; train images are train_0000.png ..."""
    return write_tiny_run(tmp_path, **train_keys), tmp_path / "data"


def train_argv(cfg_file, *opts):
    return ["--cfg", str(cfg_file), "--device", "cpu", *opts]


def label_path(root, index, split="train"):
    return root / "labels" / f"{split}_{index:04d}.png"


def set_label(root, index, value):
    label = cv2.imread(str(label_path(root, index)), cv2.IMREAD_UNCHANGED)
    label[:2, :2] = value
    cv2.imwrite(str(label_path(root, index)), label)


def bad_value_first_line(tmp):
    cfg_file, root = tiny(tmp)
    set_label(root, 0, 7)
    return train_argv(cfg_file)


def bad_value_later_line_in_a_worker(tmp):
    cfg_file, root = tiny(tmp)
    set_label(root, 5, 9)
    return train_argv(cfg_file, "WORKERS", "2")


def grey_label_saved_as_rgb(tmp):
    cfg_file, root = tiny(tmp)
    label = cv2.imread(str(label_path(root, 0)), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(label_path(root, 0)), np.dstack([label] * 3))
    return train_argv(cfg_file)


def jpeg_label(tmp):
    cfg_file, root = tiny(tmp)
    label = cv2.imread(str(label_path(root, 0)), cv2.IMREAD_UNCHANGED)
    label_path(root, 0).write_bytes(cv2.imencode(".jpg", label)[1].tobytes())
    return train_argv(cfg_file)


def swapped_columns(tmp):
    cfg_file, root = tiny(tmp)
    lines = (root / "train.lst").read_text().split()
    swapped = [f"{label} {image}" for image, label in zip(lines[0::2], lines[1::2], strict=True)]
    (root / "train.lst").write_text("\n".join(swapped) + "\n")
    return train_argv(cfg_file)


def duplicate_colour(tmp):
    cfg_file, root = tiny(tmp)
    table = (root / "colorMap.txt").read_text().splitlines()
    table[3] = "triangle 3 230 60 60"  # the circle's colour
    (root / "colorMap.txt").write_text("\n".join(table) + "\n")
    return train_argv(cfg_file)


def labels_without_class_pixels(num_train):
    def setup(tmp):
        cfg_file, root = tiny(tmp, num_train=num_train)
        for index in range(num_train):
            cv2.imwrite(str(label_path(root, index)), np.full((32, 32), 255, np.uint8))
        return train_argv(cfg_file)

    return setup


def missing_validation_image(tmp):
    cfg_file, root = tiny(tmp)
    (root / "images" / "val_0009.png").unlink()
    return train_argv(cfg_file)


def undecodable_list(tmp):
    cfg_file, root = tiny(tmp)
    (root / "train.lst").write_bytes(b"images/caf\x80.png labels/a.png\n")
    return train_argv(cfg_file)


def setting(*opts):
    return lambda tmp: train_argv(tiny(tmp)[0], *opts)


def flag_after_overrides(tmp):
    return ["--cfg", str(tiny(tmp)[0]), "TRAIN.LR", "0.1", "--device", "cpu"]


def checkpoint_of(cfg_file, path, *opts, **run):
    """A real training checkpoint of the tiny model (of `opts` on top of `cfg_file`)."""
    cfg = load_config(cfg_file, opts)
    model = models.build_model(cfg)
    ckpt.save_checkpoint(path, model, build_optimizer(cfg, model), 1, 0, 0.0, **run)


def with_checkpoint(kind, resume=True):
    def setup(tmp):
        cfg_file, _ = tiny(tmp)
        path = output_dir(tmp) / ckpt.CHECKPOINT
        if kind == "run":
            checkpoint_of(cfg_file, path, seed=304, global_batch=2)
        elif kind == "corrupt":
            path.parent.mkdir(parents=True)
            path.write_bytes(b"PK\x03\x04 half of a zip file")
        elif kind == "weights":
            path.parent.mkdir(parents=True)
            torch.save(ckpt.network_state(models.build_model(load_config(cfg_file))), path)
        elif kind == "model":
            checkpoint_of(cfg_file, path, "DATASET.NUM_CLASSES", "6", global_batch=2)
        elif kind == "batch":
            checkpoint_of(cfg_file, path, seed=304, global_batch=4)
        else:
            malicious(path)
        return train_argv(cfg_file, *(["AUTO_RESUME", "True"] if resume else []))

    return setup


def malicious_pretrained(tmp):
    cfg_file, _ = tiny(tmp)
    return train_argv(cfg_file, "MODEL.PRETRAINED", str(malicious(tmp / "imagenet.pth")))


def malicious_finetune(tmp):
    cfg_file, _ = tiny(tmp)
    weights = str(malicious(tmp / "seg.pth"))
    return train_argv(
        cfg_file, "MODEL.PRETRAINED", weights, "MODEL.FINETUNE_REINIT", "['last_layer']"
    )


def model_file_missing(tmp):
    return ["--cfg", str(tiny(tmp)[0])]


def model_file_malicious(tmp):
    return ["--cfg", str(tiny(tmp)[0]), "TEST.MODEL_FILE", str(malicious(tmp / "m.pth"))]


def bad_label_in_test_list(tmp):
    cfg_file, root = tiny(tmp)
    label = cv2.imread(str(label_path(root, 8, "val")), cv2.IMREAD_UNCHANGED)
    label[0, 0] = 11
    cv2.imwrite(str(label_path(root, 8, "val")), label)
    torch.save(models.build_model(load_config(cfg_file)).state_dict(), tmp / "m.pth")
    return ["--cfg", str(cfg_file), "TEST.MODEL_FILE", str(tmp / "m.pth")]


def an_image(tmp):
    cv2.imwrite(str(tmp / "photo.png"), np.full((24, 32, 3), 90, np.uint8))
    return tmp / "photo.png"


def pipeline_malicious(tmp):
    cfg_file, _ = tiny(tmp)
    image, weights = an_image(tmp), malicious(tmp / "m.pth")
    return ["--cfg", str(cfg_file), "--pth", str(weights), "--input", str(image), "--output", "o"]


def pipeline_missing_input(tmp):
    cfg_file, _ = tiny(tmp)
    return ["--cfg", str(cfg_file), "--input", str(tmp / "nowhere"), "--output", str(tmp / "o")]


def video_malicious(tmp):
    cfg_file, _ = tiny(tmp)
    video = tmp / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 24))
    for _ in range(2):
        writer.write(np.full((24, 32, 3), 90, np.uint8))
    writer.release()
    return [
        "--cfg", str(cfg_file), "--pth", str(malicious(tmp / "m.pth")),
        "--input_video", str(video), "--output_video", str(tmp / "out.avi"),
    ]  # fmt: skip


def export_malicious(tmp):
    cfg_file, _ = tiny(tmp)
    weights = malicious(tmp / "m.pth")
    return ["--cfg", str(cfg_file), "--pth", str(weights), "--output", str(tmp / "m.onnx")]


def benchmark_malicious(tmp):
    cfg_file, _ = tiny(tmp)
    return [
        "--speed", "--cfg", str(cfg_file), "--pth", str(malicious(tmp / "m.pth")),
        "--modes", "eager", "--size", "32", "32", "--repeats", "1",
    ]  # fmt: skip


def invalid_json(tmp):
    (tmp / "a.json").write_text('{"shapes": [', encoding="utf-8")
    return [str(tmp / "a.json"), "--quiet"]


def duplicate_colour_table(tmp):
    (tmp / "colorMap.txt").write_text("ground 0 0 100 100\nwall 2 0 100 100\n")
    return [
        "--data-dir",
        str(tmp),
        "--pred-dir",
        str(tmp),
        "--color-map",
        str(tmp / "colorMap.txt"),
    ]


def panorama_table(tmp):
    (tmp / "colorMap.txt").write_text("ground 0 0 100 100\nwall 2 200 200 255\n")
    return tmp / "colorMap.txt"


CASES = [
    # data
    ("train", bad_value_first_line, r"train\.lst:1: label .*train_0000\.png has value\(s\) 7 that"),
    ("train", bad_value_later_line_in_a_worker, r"train\.lst:6: label .*has value\(s\) 9 that"),
    ("train", grey_label_saved_as_rgb, r"train_0000\.png is an RGB image whose three channels are"),
    ("train", jpeg_label, r"label .*train_0000\.png is a JPEG file: JPEG compression changes"),
    ("train", swapped_columns, r"are the two columns of the list swapped\? \(expected 'image lab"),
    ("train", duplicate_colour, r"colorMap\.txt:4: colour \(230, 60, 60\) is used twice"),
    ("train", labels_without_class_pixels(8), r"epoch 1 of .*train\.lst held no class pixel"),
    ("train", labels_without_class_pixels(24), r"the first 10 batches of .* no class pixel"),
    ("train", missing_validation_image, r"val\.lst: 1 listed file\(s\) do not exist: line 2 image"),
    ("train", undecodable_list, r"train\.lst is neither UTF-8 nor GBK text: byte 0x80 on line 1"),
    # settings
    ("train", setting("TRAIN.END_EPOCH", "0"), r"TRAIN\.END_EPOCH is 0 and there is no extra"),
    ("train", setting("TRAIN.IMAGE_SIZE", "64"), r"TRAIN\.IMAGE_SIZE is \[64\]; expected two posi"),
    ("train", setting("TRAIN.BATCH_SIZE_PER_GPU", "0"), r"BATCH_SIZE_PER_GPU is 0; expected an"),
    ("train", setting("WORKERS", "-1"), r"WORKERS is -1; expected an integer >= 0"),
    ("train", setting("TRAIN.LR", "0"), r"TRAIN\.LR is 0\.0; expected a positive learning rate"),
    ("train", setting("TRAIN.LR", "-0.01"), r"TRAIN\.LR is -0\.01; expected a positive"),
    ("train", setting("MODEL.EXTRA.STAGE2.FUSE_METHOD", "CAT"), r"FUSE_METHOD is 'CAT'; expected"),
    ("train", setting("TRAIN.CHECKPOINT_EVERY", "-1"), r"TRAIN\.CHECKPOINT_EVERY is -1; expected"),
    ("train", flag_after_overrides, r"--device comes after the KEY VALUE overrides"),
    # runs and checkpoints
    ("train", with_checkpoint("run", resume=False), r"checkpoint\.pth\.tar exists: .*AUTO_RESUME"),
    ("train", with_checkpoint("corrupt"), r"checkpoint\.pth\.tar cannot be read: .*; move .* away"),
    ("train", with_checkpoint("weights"), r"checkpoint\.pth\.tar is not a training checkpoint"),
    ("train", with_checkpoint("model"), r"checkpoint\.pth\.tar was written by another model"),
    ("train", with_checkpoint("batch"), r"global batch of 4; this one has 2 \(TRAIN\.BATCH_SIZE"),
    # malicious pickles, through every path that loads weights
    ("train", with_checkpoint("malicious"), r"checkpoint\.pth\.tar cannot be read: it holds Pyth"),
    ("train", malicious_pretrained, r"imagenet\.pth cannot be read: it holds Python objects"),
    ("train", malicious_finetune, r"seg\.pth cannot be read: it holds Python objects"),
    ("test", model_file_malicious, r"m\.pth cannot be read: it holds Python objects"),
    ("pipeline", pipeline_malicious, r"m\.pth cannot be read: it holds Python objects"),
    ("analysisVideo", video_malicious, r"m\.pth cannot be read: it holds Python objects"),
    ("export_onnx", export_malicious, r"m\.pth cannot be read: it holds Python objects"),
    ("benchmark", benchmark_malicious, r"m\.pth cannot be read: it holds Python objects"),
    # other tools
    ("test", model_file_missing, r"model file .*final_state\.pth does not exist; train first"),
    ("test", bad_label_in_test_list, r"val\.lst:1: label .*val_0008\.png has value\(s\) 11 that"),
    ("pipeline", pipeline_missing_input, r"input .*nowhere does not exist"),
    ("generate_list", lambda t: ["--data-dir", str(t / "none"), "--quiet"], r"label folder"),
    ("json2labelImg", invalid_json, r"JSON file .*a\.json is not valid JSON"),
    (
        "analysisData",
        lambda t: ["--data-dir", str(t), "--color-map", str(panorama_table(t)), "--quiet"],
        r"list .*val_list\.txt does not exist",
    ),
    ("analysisResult", duplicate_colour_table, r"colorMap\.txt:2: colour \(0, 100, 100\) is used"),
    (
        "convert_pascal_ctx",
        lambda t: ["--root", str(t), "--json", str(t / "no.json")],
        r"annotation file .*no\.json does not exist",
    ),
    (
        "preprocessPanorama",
        lambda t: ["--root", str(t), "--color-map", str(panorama_table(t)), "--quiet"],
        r"no store folders under",
    ),
]


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def case_id(tool, setup, pattern):
    name = setup.__name__ if setup.__name__ not in ("<lambda>", "setup") else pattern
    return f"{tool}-{re.sub(r'[^A-Za-z0-9]+', '_', name)[:40]}"


@pytest.mark.parametrize("tool, setup, pattern", CASES, ids=[case_id(*c) for c in CASES])
def test_one_line_error_status_2_and_nothing_overwritten(
    tmp_path, capsys, monkeypatch, tool, setup, pattern
):
    monkeypatch.delenv("HRNET_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    argv = setup(tmp_path)
    before = snapshot(tmp_path)
    capsys.readouterr()

    status = run_tool(TOOLS[tool].main, argv)

    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == 2, err[-2000:]
    assert len(errors) == 1 and "Traceback" not in err, err[-2000:]
    assert re.search(pattern, errors[0]), errors[0]
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was changed"
    assert not (tmp_path / MARKER).exists(), "the pickle's payload ran"
    if tool == "train":  # nothing was trained
        for name in (ckpt.FINAL, ckpt.BEST):
            assert not (output_dir(tmp_path) / name).exists()
    if "exists" in pattern:  # a refused run adds nothing, not even its log, to the old run
        assert set(snapshot(tmp_path)) == set(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has a GPU")
def test_device_cuda_without_cuda(tmp_path, capsys):
    status = run_tool(train.main, ["--cfg", str(tiny(tmp_path)[0]), "--device", "cuda"])
    assert status == 2
    assert capsys.readouterr().err.startswith("error: --device cuda: this PyTorch sees no CUDA")


def test_the_command_line_prints_one_line_and_debug_the_traceback(tmp_path):
    """The scripts themselves: `python tools/train.py ...` exits 2 with the one line; --debug
    shows the traceback."""
    cfg_file, _ = tiny(tmp_path)
    command = [sys.executable, str(REPO / "tools/train.py"), "--cfg", str(cfg_file)]
    env = {**os.environ, "HRNET_DEBUG": ""}
    result = subprocess.run(
        [*command, "TRAIN.LR", "0"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr == "error: TRAIN.LR is 0.0; expected a positive learning rate\n"
    result = subprocess.run(
        [*command, "--debug", "TRAIN.LR", "0"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "Traceback" in result.stderr
    assert "ConfigError: TRAIN.LR is 0.0" in result.stderr


@pytest.mark.parametrize(
    "tool", sorted(p.stem for p in (REPO / "tools").glob("*.py") if p.stem != "_init_paths")
)
def test_every_tool_documents_debug(tool, capsys):
    module = load_tool(tool)
    with pytest.raises(SystemExit):
        module.parse_args(["--help"])
    assert "--debug" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup, pattern, lines, root",
    [
        # Both processes fail, but torchrun stops the slower one as soon as the first exits,
        # so its line may never come.
        (setting("TRAIN.LR", "0"), r"TRAIN\.LR is 0\.0; expected a positive", {1, 2}, {0, 1}),
        (with_checkpoint("run", resume=False), r"checkpoint\.pth\.tar exists: ", {1}, {0}),
        # line 6 is in process 1's shard of the seeded order
        (
            bad_value_later_line_in_a_worker,
            r"train\.lst:6: label .*has value\(s\) 9 that",
            {1},
            {1},
        ),
    ],
    ids=["every-process", "rank-0-decides", "one-process-mid-epoch"],
)
def test_torchrun_processes_print_one_line_each_and_no_traceback(
    tmp_path, setup, pattern, lines, root
):
    """The process with the message is the one torchrun names as the root cause."""
    argv = setup(tmp_path)
    before = snapshot(tmp_path)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={free_port()}", str(REPO / "tools/train.py"), *argv,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "lib"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len([e for e in errors if re.search(pattern, e)]) in lines, result.stderr[-3000:]
    assert all(re.search(pattern, e) or "lost the connection" in e for e in errors), errors
    assert "exitcode  : 2" in result.stderr or "exitcode: 2" in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("[rank")]
    root_cause = result.stderr[result.stderr.index("Root Cause") :]
    assert int(re.search(r"rank\s*: (\d+)", root_cause).group(1)) in root, root_cause
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was changed"
