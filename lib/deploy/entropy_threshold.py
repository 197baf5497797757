"""The KL-divergence (entropy) calibration threshold of one activation histogram.

The same search as ONNX Runtime's `HistogramCollector.get_entropy_threshold` (TensorRT's
calibration): every symmetric window of the histogram around its zero bin, from
`num_quantized_bins` bins wide to the whole histogram, is scored by the KL divergence between
the window (with the outliers added to its end bins) and the window merged into
`num_quantized_bins` bins and spread back over its non-empty bins; the window of least
divergence gives the range. Each window's distributions are built with the same float32
operations in the same order, so the thresholds are ONNX Runtime's; the per-bin Python loops of
ONNX Runtime's version are array operations here, about 10x faster (132 s -> 13 s for a tiny
HRNet's 204 activations).
"""

import numpy as np

__all__ = ["entropy_threshold"]

_SMOOTHING = 0.0001  # the probability given to an empty bin, taken from the others


def _smoothed(counts):
    """float32 counts with every empty bin given _SMOOTHING, taken evenly from the others;
    None when every bin is empty."""
    empty = counts == 0
    n_empty = np.count_nonzero(empty)
    n_full = counts.size - n_empty
    if not n_full:
        return None
    taken = np.float32(_SMOOTHING * float(n_empty) / float(n_full))
    return np.where(empty, np.float32(_SMOOTHING), counts.astype(np.float32) - taken)


def _kl_divergence(p, q):
    p = p / np.sum(p)
    q = q / np.sum(q)
    return np.sum(p * np.log(p / q))


def entropy_threshold(histogram, num_quantized_bins):
    """(low, high) of least KL divergence for `histogram` = (counts, edges, min, max, ...) as
    ONNX Runtime's histogram collector holds it; clamped to the observed min and max."""
    counts, edges, lowest, highest = histogram[:4]
    n_bins = counts.size
    zero = n_bins // 2
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    total = cumulative[-1]
    windows = [
        (zero - half, min(zero + half + 1, n_bins))
        for half in range(num_quantized_bins // 2, zero + 1)
    ]
    divergences = np.empty(len(windows), dtype=edges.dtype)
    for j, (start, end) in enumerate(windows):
        reference = counts[start:end].copy()
        reference[0] += cumulative[start]
        reference[-1] += total - cumulative[end]
        # Merge the window (without its outliers) into num_quantized_bins bins of `merged`
        # bins each; the last one also takes the bins left over.
        merged = (end - start) // num_quantized_bins
        body = num_quantized_bins * merged
        sums = np.diff(cumulative[start : start + body + 1 : merged])
        sums[-1] += cumulative[end] - cumulative[start + body]
        nonempty = np.count_nonzero(reference[:body].reshape(num_quantized_bins, merged), axis=1)
        candidate = np.zeros(end - start, dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.where(nonempty > 0, sums / nonempty, 0)
        candidate[:body] = np.repeat(spread, merged)  # truncated to whole counts
        p, q = _smoothed(reference), _smoothed(candidate)
        divergences[j] = np.inf if p is None or q is None else _kl_divergence(p, q)
    start, end = windows[int(np.argmin(divergences))]
    low, high = edges[start], edges[end]
    return (lowest if low < lowest else low), (highest if high > highest else high)
