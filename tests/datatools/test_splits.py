"""datatools.splits: split sizes and seeded, partitioning split names."""

import pytest

from datatools.splits import split_counts, split_names


def test_split_counts_follow_the_ratio():
    assert split_counts(6, (4, 1, 1)) == [4, 1, 1]
    assert split_counts(600, (4, 1, 1)) == [400, 100, 100]
    assert split_counts(7, (4, 1, 1)) == [5, 1, 1]  # the remainder to the largest fraction
    assert split_counts(10, (1, 0, 1)) == [5, 0, 5]
    with pytest.raises(ValueError, match="ratio"):
        split_counts(10, (1, 1))


def test_split_names_partition_and_seed():
    names = [f"img{i:03d}" for i in range(60)]
    splits = split_names(names, (4, 1, 1), seed=5)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [40, 10, 10]
    assert sorted(sum(splits.values(), [])) == names
    assert split_names(list(reversed(names)), (4, 1, 1), seed=5) == splits
    assert split_names(names, (4, 1, 1), seed=6) != splits
