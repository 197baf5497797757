"""The data-pipeline benchmark runs (timings are not asserted: the machine is shared)."""

from datasets.benchmark import measure_data_pipeline, print_data_report


def test_measure_data_pipeline_on_a_tiny_image(tmp_path, capsys):
    result = measure_data_pipeline(tmp_path, repeats=2, image_size=(32, 64), crop_size=(16, 32))
    assert result["decode_ms"] > 0 and result["sample_ms"] > 0
    assert result["ratio"] == result["sample_ms"] / result["decode_ms"]
    assert (tmp_path / "train.lst").is_file()
    print_data_report(result)
    assert "ratio" in capsys.readouterr().out
