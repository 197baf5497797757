"""datasets.demo_data: the synthetic shapes of tools/demo.py."""

import numpy as np
import pytest

from datasets.demo_data import MIN_SIZE, make_sample


def test_min_size_is_the_smallest_side_the_generator_draws():
    rng = np.random.default_rng(0)
    for _ in range(200):
        image, label = make_sample(rng, MIN_SIZE)
    assert image.shape == (MIN_SIZE, MIN_SIZE, 3) and label.shape == (MIN_SIZE, MIN_SIZE)
    with pytest.raises(ValueError):
        for _ in range(200):
            make_sample(rng, MIN_SIZE - 1)
