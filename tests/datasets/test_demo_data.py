"""datasets.demo_data: the synthetic shapes of tools/demo.py."""

import numpy as np
import pytest

from datasets.demo_data import MIN_SIZE, make_sample, write_demo_dataset
from utils.errors import DataError


def test_min_size_is_the_smallest_side_the_generator_draws():
    rng = np.random.default_rng(0)
    for _ in range(200):
        image, label = make_sample(rng, MIN_SIZE)
    assert image.shape == (MIN_SIZE, MIN_SIZE, 3) and label.shape == (MIN_SIZE, MIN_SIZE)
    with pytest.raises(ValueError):
        for _ in range(200):
            make_sample(rng, MIN_SIZE - 1)


def test_an_existing_dataset_is_kept_only_when_it_is_the_one_asked_for(tmp_path):
    root = write_demo_dataset(tmp_path / "demo", num_train=3, num_val=2, size=32)
    listing = (root / "train.lst").read_text()
    assert write_demo_dataset(root, num_train=3, num_val=2, size=32) == root  # kept
    assert (root / "train.lst").read_text() == listing
    for asked in (
        {"num_train": 4, "num_val": 2, "size": 32},
        {"num_train": 3, "num_val": 2, "size": 64},
    ):
        with pytest.raises(
            DataError, match=r"holds a demo dataset of 3 training and 2 validation images of 32 px"
        ):
            write_demo_dataset(root, **asked)
