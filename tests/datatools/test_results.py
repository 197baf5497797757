"""datatools.results: per-image accuracy with the ignore label, and the ranking."""

import numpy as np

from datatools.results import Score, rank, score


def test_score_and_ignore():
    label = np.array([[0, 1], [255, 1]], np.uint8)
    prediction = np.array([[0, 0], [0, 1]], np.uint8)
    assert score(label, prediction) == (2, 3)
    assert score(label, prediction, count_ignore=True) == (2, 4)


def test_rank_orders_by_accuracy_then_name():
    scores = [Score("b", 5, 10), Score("a", 5, 10), Score("c", 9, 10), Score("z", 0, 0)]
    assert [s.name for s in rank(scores)] == ["c", "a", "b"]
