"""The data-pipeline benchmark runs (timings are not asserted: the machine is shared)."""

from bench.data_pipeline import measure_data_pipeline, print_data_report


def test_measure_data_pipeline_on_a_tiny_image(tmp_path, capsys):
    result = measure_data_pipeline(tmp_path, repeats=2, image_size=(32, 64), crop_size=(16, 32))
    assert result["decode_ms"] > 0 and result["sample_ms"] > 0
    assert result["ratio"] == result["sample_ms"] / result["decode_ms"]
    assert (tmp_path / "train.lst").is_file()
    for step in ("decode", "sample"):
        ms = result["ms"][step]
        assert ms["min"] <= ms["median"] <= ms["max"]
    assert result["decode_ms"] == result["ms"]["decode"]["median"]
    print_data_report(result)
    printed = capsys.readouterr().out
    assert "ratio" in printed and "| min (ms) | median (ms) | max (ms) |" in printed
