"""tools/benchmark.py's timing modes on a tiny model: the tables they print."""

import importlib.util

import benchmark
import pytest
from tiny_models import tiny_config


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
    modes = ["eager", "exact", "fast"]
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        modes.append("onnx-fp32")
    benchmark.main(
        ["--speed", "--cfg", tiny_yaml, "--size", "64", "96", "--repeats", "2", "--modes", *modes]
    )
    rows = table_rows(capsys.readouterr().out)
    assert [r[3].strip() for r in rows] == [benchmark.LABELS[m] for m in modes]
    eager, exact = rows[0], rows[1]
    assert eager[8].strip() == eager[9].strip() == "1.00x" and eager[10].strip() == "100.00%"
    assert exact[10].strip() == "100.00%"


def test_multiscale_loop_and_predictor_predict_the_same(tiny_yaml, capsys):
    benchmark.main(["--multiscale", "--cfg", tiny_yaml, "--size", "64", "96"])
    rows = table_rows(capsys.readouterr().out)
    names = [r[0].strip() for r in rows]
    assert names == [
        benchmark.ORIGINAL,
        benchmark.PLAIN,
        "Predictor, eager fp32",
        "Predictor, exact model",
        "Predictor, fast model",
    ]
    same = [r[4].strip() for r in rows]
    assert same[:4] == ["100.00%"] * 4  # the glibc-default subprocess computes the same
    assert rows[1][2].strip() == "1.00x" and rows[0][3].strip() == "1.00x"


def test_allocator_runs_each_case_in_its_own_process(tiny_yaml, capsys):
    benchmark.main(
        ["--allocator", "--cfg", tiny_yaml, "--size", "64", "96", "--repeats", "1", "--rounds", "1"]
    )
    rows = table_rows(capsys.readouterr().out)
    assert [r[1].strip() for r in rows] == [benchmark.LABELS["eager"], benchmark.LABELS["fast"]]
    # for eager, "vs the original code" is its own allocator speed-up
    assert rows[0][5].strip() == rows[0][4].strip() and rows[1][5].strip().endswith("x")
