"""tools/benchmark.py --train (bench/training.py): its flags and tables; end to end (every path
in its own process) on a tiny model and a shortened demo under -m slow."""

import mmap

import pytest

from bench import training
from helpers.model_specs import tiny_config
from helpers.tools import load_tool
from utils.errors import UserError

benchmark = load_tool("benchmark")


def table_rows(text):
    return [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")][1:]


@pytest.fixture
def tiny_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_config("seg_hrnet", 5).dump())
    return str(path)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--train", "--batch", "0"], "--batch 0: expected 1 or more"),
        (["--train", "--repeats", "-1"], "--repeats -1: expected 0 or more"),
        (["--speed", "--cfg", "x.yaml", "--repeats", "0"], "--repeats 0: expected 1 or more"),
        (["--train", "--repeats", "0", "--seeds", "0"], "--seeds 0: expected 1 or more"),
        (["--train", "--demo-epochs", "-1"], "--demo-epochs -1: expected 0 or more"),
        (["--train", "--size", "0", "64"], "--size 0: expected 1 or more"),
        (["--train", "--threads", "0"], "--threads 0: expected 1 or more"),
        (["--allocator", "--cfg", "x.yaml", "--rounds", "0"], "--rounds 0: expected 1 or more"),
        (["--train", "--repeats", "0", "--demo-epochs", "0"], "measures nothing"),
    ],
)
def test_numbers_that_measure_nothing_are_refused(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        benchmark.parse_args(flags)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_a_device_that_is_not_there_is_one_error_line():
    with pytest.raises(UserError, match="--device foo: expected cpu, cuda or cuda:N"):
        benchmark.parse_args(["--train", "--device", "foo"])


def test_train_flags_default_to_the_issue_batch():
    args = benchmark.parse_args(["--train", "--cfg", "x.yaml"])
    assert (args.size, args.batch, args.repeats, args.demo_epochs) == ([256, 512], 2, 5, 10)
    assert args.warmup == training.WARMUP_STEPS == 3
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--train", "--warmup", "-1"])
    assert benchmark.parse_args(["--speed", "--cfg", "x.yaml"]).size == [1024, 2048]
    assert benchmark.parse_args(["--train"]).cfg == []  # run_train: STEP_CFGS
    names = [path.name for path in training.STEP_CFGS]
    assert all(path.is_file() for path in training.STEP_CFGS)
    assert ["w18_small_v2" in names[0], "w48" in names[1]] == [True, True]


def test_zero_rounds_skip_the_step_table(monkeypatch, capsys):
    """--train --repeats 0: the demo epochs alone, no step of any model."""

    def measure_steps(*_args):
        raise AssertionError("a step was measured")

    demos = []
    monkeypatch.setattr(training, "measure_steps", measure_steps)
    monkeypatch.setattr(training, "measure_demo_epochs", lambda *a, **k: demos.append(a) or [])
    monkeypatch.setattr(training, "format_demo_table", lambda demo: "demo table")
    assert benchmark.main(["--train", "--repeats", "0", "--demo-epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "| config" not in out and "demo table" in out and len(demos) == 1


def test_tables_give_speed_ups_against_the_original_and_memory_without_the_runtime():
    common = {"config": "w48", "images": 2, "dtype": "fp32", "runtime_mb": 500.0, "warmup": 3}
    rows = [
        {**common, "row": "original", "seconds": [4.0, 3.0, 5.0], "loss": 2.0, "peak_mb": 3000.0,
         "tensor_mb": 2400.0, "faults": 90000},
        {**common, "row": "mixed", "seconds": [2.0, 1.0, 1.5], "loss": 2.1, "peak_mb": 2000.0,
         "tensor_mb": 1200.0, "faults": 3},
        {**common, "row": "checkpoint", "seconds": [2.0], "loss": 2.1, "peak_mb": 1100.0,
         "tensor_mb": 480.0, "faults": 0},
    ]  # fmt: skip
    text = training.format_step_table(rows, (256, 512), 2)
    table = table_rows(text)
    assert [r[3:8] for r in table][1] == [" 1.50 ", " 1.00 ", " 2.00 ", " 1.33 ", " 2.67x "]
    assert table[1][8:11] == [" 2000 ", " 1500 ", " 1200 "]
    assert [r[12] for r in table] == [" 90000 ", " 3 ", " 0 "]
    # checkpointing against mixed precision: (1100 - 500) / (2000 - 500) - 1, 480 / 1200 - 1,
    # 2.0 / 1.5 - 1
    assert (
        "peak memory 1500 -> 600 MB (-60%; peak RSS 2000 -> 1100 MB), live tensors 1200 -> 480 MB "
        "(-60%), time +33%"
    ) in text
    demo = [
        {"row": "fp32", "seconds": [2.0, 2.0], "losses": [1.0, 0.5], "last_losses": [0.45, 0.55],
         "steps": 20, "images": 160, "dtype": "fp32", "mIoU": 0.9},
        {"row": "mixed", "seconds": [1.0, 1.0], "losses": [1.0, 0.52], "last_losses": [0.5, 0.54],
         "steps": 20, "images": 160, "dtype": "torch.bfloat16", "mIoU": 0.89},
    ]  # fmt: skip
    text = training.format_demo_table(demo)
    assert "2 epoch(s) of 20 steps" in text and "(steps 21-40), the mean of 2 seeds" in text
    assert [r[1:] for r in table_rows(text)][1] == [
        " bfloat16 ",
        " 1.00 ",
        " 160.0 ",
        " - ",  # no original row
        " 1.0000 ",
        " 0.5200 ",
        " 0.5000-0.5400 ",
        " +4.6% +- 6.5% ",  # per seed: 0.50 / 0.45 - 1 and 0.54 / 0.55 - 1
        " 0.8900 ",
    ]


def test_paired_change_is_the_mean_change_per_pair_with_its_standard_error():
    change, error = training.paired_change([1.1, 0.9, 1.2], [1.0, 1.0, 1.0])
    assert change == pytest.approx(0.2 / 3)
    assert error == pytest.approx(0.152753 / 3**0.5, rel=1e-4)  # stdev of 0.1, -0.1, 0.2
    assert training.paired_change([0.5], [0.4]) == (pytest.approx(0.25), None)


def test_train_modes_choose_the_demo_paths_too(monkeypatch):
    chosen = []

    class Measured(Exception):
        pass

    def measure_demo_epochs(_epochs, rows, *_args, **_kwargs):
        chosen.append(list(rows))
        raise Measured

    monkeypatch.setattr(training, "measure_demo_epochs", measure_demo_epochs)
    with pytest.raises(Measured):
        benchmark.main(["--train", "--repeats", "0", "--modes", "fp32", "mixed", "checkpoint"])
    with pytest.raises(Measured):
        benchmark.main(["--train", "--repeats", "0"])
    assert chosen == [["fp32", "mixed"], list(training.DEMO_ROWS)]
    # no demo path among the modes: no demo
    assert benchmark.main(["--train", "--repeats", "0", "--modes", "checkpoint"]) == 0
    assert len(chosen) == 2


@pytest.mark.slow
def test_step_table_compares_every_path_with_the_original(tiny_yaml, capsys):
    argv = ["--train", "--cfg", tiny_yaml, "--size", "64", "96", "--repeats", "2"]
    paths = ["original", "original-amp", "fp32", "mixed", "mixed-native-norms", "checkpoint"]
    benchmark.main([*argv, "--modes", *paths, "--demo-epochs", "0"])
    rows = table_rows(capsys.readouterr().out)
    assert [r[1].strip() for r in rows] == [training.STEP_ROWS[p].label for p in paths]
    assert rows[0][7].strip() == "1.00x"
    assert [r[2].strip() for r in rows] == ["fp32", "bfloat16", "fp32", *["bfloat16"] * 3]
    # the same batch from the same weights: the original's path and this project's fp32 path
    # (channels_last, fused optimizer, padded BatchNorm backward) reach the same loss, the original
    # with channels_last and autocast that of mixed precision; checkpointing changes nothing
    original, original_amp, fp32, mixed, native_norms, checkpointed = (float(r[11]) for r in rows)
    assert fp32 == pytest.approx(original, rel=1e-3)
    assert original_amp == pytest.approx(native_norms, rel=1e-3)
    assert original_amp == pytest.approx(mixed, rel=1e-3)
    assert checkpointed == pytest.approx(mixed, rel=1e-3)
    assert all(float(r[8]) > float(r[9]) > 0 for r in rows)  # peak RSS > peak minus runtime
    assert all(0 < float(r[10]) < float(r[9]) for r in rows)  # live tensors < peak minus runtime
    assert all(float(r[12]) >= 0 for r in rows)  # page faults per step


def test_train_modes_choose_the_paths(monkeypatch):
    chosen = []

    def measure_steps(_cfg_file, rows, *args):
        chosen.append((rows, args[-1]))  # the paths and the warm-up steps
        return []

    monkeypatch.setattr(training, "measure_steps", measure_steps)
    argv = ["--train", "--demo-epochs", "0", "--cfg", "x.yaml", "--modes", "mixed", "checkpoint"]
    assert benchmark.main(argv) == 0
    assert benchmark.main([*argv, "--warmup", "5"]) == 0
    assert chosen == [(["mixed", "checkpoint"], 3), (["mixed", "checkpoint"], 5)]
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--train", "--modes", "fast"])  # a --speed path


def test_page_faults_count_memory_touched_for_the_first_time():
    size = 64 * 2**20
    with mmap.mmap(-1, size) as fresh:  # anonymous memory: mapped page by page on first touch
        before = training._page_faults()
        for offset in range(0, size, mmap.PAGESIZE):
            fresh[offset] = 1
        assert training._page_faults() - before > 0.9 * size / mmap.PAGESIZE


def test_tensor_peak_counts_the_weights_gradients_and_the_activations(tiny_yaml):
    job = training._Job("step", training.STEP_ROWS["mixed"], tiny_yaml, size=(64, 96))
    step = training._StepJob(job)
    step(None)
    held = sum(t.nbytes for t in step._held_tensors()) / 2**20
    weights = sum(p.nbytes for p in step.step.net.parameters()) / 2**20
    peak = step.tensor_peak_mb()
    # weights, their gradients and momentum at least; the activations on top
    assert held >= 3 * weights
    assert held < peak < held + 100


@pytest.mark.slow
def test_demo_epochs_report_images_per_second_and_the_loss():
    small = [
        "TRAIN.NUM_SAMPLES",
        "16",
        "TRAIN.IMAGE_SIZE",
        "64,64",
        "TRAIN.BATCH_SIZE_PER_GPU",
        "4",
    ]
    rows = training.measure_demo_epochs(2, rows=("original", "mixed"), opts=small, seeds=2)
    assert [r["row"] for r in rows] == ["original", "mixed"]
    for row in rows:
        assert row["steps"] == 4 and row["images"] == 16 and len(row["seconds"]) == 2 * 2
        assert row["losses"][1] < row["losses"][0]
        assert sum(row["last_losses"]) / 2 == pytest.approx(row["losses"][1])
        assert row["last_losses"][0] != row["last_losses"][1]  # two seeds, two runs
        assert 0 < row["mIoU"] <= 1
    assert rows[0]["dtype"] == "fp32"
    text = training.format_demo_table(rows)
    assert [r[4].strip() for r in table_rows(text)][0] == "1.00x"
