"""tools/plot_runs.py: a PNG of loss, learning rate and mIoU curves from tiny runs."""

import pytest

from core.run_log import read_run
from helpers.tiny_run import output_dir
from helpers.tools import load_tool
from utils.charts import run_curves_figure
from utils.image_io import read_image

plot_runs = load_tool("plot_runs")


def test_writes_a_png_from_a_tiny_run(trained_tiny_run, tmp_path, capsys):
    run = output_dir(trained_tiny_run)
    out = tmp_path / "图" / "run.png"
    assert plot_runs.main([str(run), "--out", str(out), "--title", "tiny"]) == 0
    assert str(out) in capsys.readouterr().out
    assert read_image(out, "rgb").shape == (420, 1500, 3)  # 15 x 4.2 inches at 100 dpi


def test_the_curves_hold_every_record(trained_tiny_run):
    records = read_run(output_dir(trained_tiny_run))
    loss, lr, miou = run_curves_figure({"a": records, "b": records}).axes[:3]
    assert [len(line.get_xdata()) for line in loss.lines] == [8, 2, 8, 2]  # train, val per run
    (x_first, *_), *_ = (line.get_xdata() for line in lr.lines)
    assert x_first == pytest.approx(0.25)  # iteration 1 of 4 in epoch 1
    assert [list(line.get_xdata()) for line in miou.lines] == [[1, 2], [1, 2]]
    assert [t.get_text() for t in miou.get_legend().get_texts()] == ["a", "b"]


def test_several_runs_logs_and_errors(trained_tiny_run, tmp_path):
    run = output_dir(trained_tiny_run)
    (log,) = run.glob("*_train.log")
    out = tmp_path / "two.png"
    assert plot_runs.main([str(run), str(log), "--legend", "jsonl", "log", "--out", str(out)]) == 0
    assert out.is_file()
    with pytest.raises(SystemExit):
        plot_runs.parse_args([str(run), "--legend", "a", "b"])
    assert plot_runs.cli.run_tool(plot_runs.main, [str(tmp_path / "none"), "--out", str(out)]) == 2
