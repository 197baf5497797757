"""Confusion matrix counts and the scores derived from it."""

import numpy as np
import pytest
import torch

from utils.metrics import confusion_matrix, segmentation_scores


def test_scores_of_a_known_confusion_matrix_are_exact():
    confusion = np.array([[3, 1, 0], [2, 4, 0], [0, 0, 0]])
    scores = segmentation_scores(confusion)
    # IoU: 3 / (4 + 5 - 3), 4 / (6 + 5 - 4), absent class 0 / max(1, 0)
    assert scores["IoU"].tolist() == [3 / 6, 4 / 7, 0.0]
    assert scores["mIoU"] == (3 / 6 + 4 / 7 + 0.0) / 3
    assert scores["pixel_acc"] == 7 / 10
    assert scores["mean_acc"] == (3 / 4 + 4 / 6 + 0.0) / 3


def test_scores_accept_a_tensor():
    scores = segmentation_scores(torch.tensor([[5.0, 0.0], [0.0, 5.0]], dtype=torch.float64))
    assert scores["mIoU"] == 1.0 and scores["pixel_acc"] == 1.0


def test_scores_reject_a_non_square_matrix():
    with pytest.raises(ValueError, match=r"square, got shape \(2, 3\)"):
        segmentation_scores(np.zeros((2, 3)))


LABEL = [[0, 1, 2], [2, 255, 1]]
PRED = [[0, 2, 2], [1, 0, 1]]
EXPECTED = [[1, 0, 0], [0, 1, 1], [0, 1, 1]]


def test_confusion_matrix_from_arrays_skips_ignored_pixels():
    confusion = confusion_matrix(np.array(LABEL, np.uint8), np.array(PRED), 3, ignore_label=255)
    assert isinstance(confusion, np.ndarray) and confusion.tolist() == EXPECTED


def test_confusion_matrix_from_tensors_is_a_tensor():
    label = torch.tensor([LABEL, LABEL])
    label[label == 255] = -1
    confusion = confusion_matrix(label, torch.tensor([PRED, PRED]), 3, ignore_label=-1)
    assert torch.is_tensor(confusion) and confusion.dtype == torch.int64
    assert confusion.tolist() == (2 * np.array(EXPECTED)).tolist()


def test_out_of_range_values_are_errors_naming_the_value():
    with pytest.raises(ValueError, match=r"label has value 7, not a class index \(0..2\) nor the"):
        confusion_matrix(np.array([[0, 7]]), np.array([[0, 1]]), 3, ignore_label=255)
    with pytest.raises(ValueError, match=r"label has value -1"):
        confusion_matrix(torch.tensor([[0, -1]]), torch.tensor([[0, 1]]), 3, ignore_label=255)
    with pytest.raises(ValueError, match=r"prediction has value 3"):
        confusion_matrix(np.array([[0, 1]]), np.array([[0, 3]]), 3, ignore_label=255)


def test_shapes_must_match():
    with pytest.raises(ValueError, match=r"label shape \(1, 2\) differs from prediction shape"):
        confusion_matrix(np.zeros((1, 2)), np.zeros((2, 1)), 3)
