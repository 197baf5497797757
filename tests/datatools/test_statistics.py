"""datatools.statistics: per-class mean and variance of pixel counts, against plain NumPy."""

import numpy as np
import pytest

from datatools.statistics import class_statistics
from helpers.label_data import IDS, expected, write_label_splits
from utils.errors import UserError


@pytest.fixture
def dataset(tmp_path):
    return write_label_splits(tmp_path)


def test_statistics_match_numpy(dataset):
    root, labels, _ = dataset
    stats = class_statistics(root, ["val", "test", "train"], IDS, progress=False)
    for split, split_labels in labels.items():
        mean, var = expected(split_labels, IDS)
        np.testing.assert_allclose(stats[split][0], mean)
        np.testing.assert_allclose(stats[split][1], var)


def test_class_indices_and_missing_list(dataset):
    root, labels, color_map = dataset
    stats = class_statistics(root, ["val"], [0, 1, 2], progress=False, ignored=[10])
    np.testing.assert_allclose(stats["val"][0], expected(labels["val"], [0, 1, 2])[0])
    with pytest.raises(UserError, match="extra_list.txt"):
        class_statistics(root, ["extra"], IDS, progress=False)


def test_a_label_value_in_no_line_of_the_table_is_named(dataset):
    root, _, _ = dataset
    with pytest.raises(
        UserError, match=r"label .*val.*\.png holds id\(s\) \[10\] that are in no line"
    ):
        class_statistics(root, ["val"], [0, 2], progress=False)
