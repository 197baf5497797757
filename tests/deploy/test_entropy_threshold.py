"""The vectorised entropy threshold equals ONNX Runtime's own search on the histograms its
collector builds."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from onnxruntime.quantization.calibrate import HistogramCollector  # noqa: E402

from deploy.entropy_threshold import entropy_threshold  # noqa: E402


def collector(bins, quantized_bins):
    return HistogramCollector(
        "entropy",
        symmetric=False,
        num_bins=bins,
        num_quantized_bins=quantized_bins,
        percentile=99.99,
        scenario="same",
    )


def activations(kind, rng, size):
    if kind == "relu":
        return np.maximum(rng.normal(rng.normal(), 1.0, size), 0.0)
    if kind == "heavy tails":
        return rng.standard_t(1.5, size)
    if kind == "mostly zero":
        return rng.normal(0.0, 1.0, size) * (rng.random(size) < 0.05)
    return rng.exponential(1.0, size) * rng.choice([-1.0, 1.0], size)


@pytest.mark.parametrize("kind", ["relu", "heavy tails", "mostly zero", "two-sided"])
@pytest.mark.parametrize("bins, quantized_bins", [(256, 32), (301, 32), (512, 128)])
def test_thresholds_equal_onnx_runtimes(kind, bins, quantized_bins):
    rng = np.random.default_rng(bins + quantized_bins)
    histograms = collector(bins, quantized_bins)
    # Batches of growing range: the collector widens the histogram beyond `bins`.
    for scale in (0.5, 1.0, 2.5):
        batch = scale * activations(kind, rng, 5000)
        histograms.collect_value({"x": batch.astype(np.float32)})
    histogram = histograms.histogram_dict["x"]
    assert histogram[0].size > bins
    expected = histograms.get_entropy_threshold(histogram, quantized_bins)
    low, high = entropy_threshold(histogram, quantized_bins)
    assert (low, high) == expected
    assert low.dtype == high.dtype == np.float32
    assert histogram[2] <= low < high <= histogram[3]  # within the observed range


def test_an_all_zero_activation_has_the_range_zero():
    histograms = collector(256, 32)
    histograms.collect_value({"x": np.zeros(100, np.float32)})
    histogram = histograms.histogram_dict["x"]
    assert entropy_threshold(histogram, 32) == (0.0, 0.0)
