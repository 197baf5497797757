"""CE and OHEM CE against values computed by hand with NumPy."""

import numpy as np
import pytest
import torch

from config import get_defaults
from core.criterion import CrossEntropy, OhemCrossEntropy, build_criterion


def two_class_logits(gt_probs, target):
    """(1, 2, 1, N) logits whose softmax gives probability p to the target class."""
    gt_probs = np.asarray(gt_probs, dtype=np.float64)
    logits = np.zeros((1, 2, 1, len(gt_probs)))
    for i, (p, t) in enumerate(zip(gt_probs, target, strict=True)):
        logits[0, t, 0, i] = np.log(p)
        logits[0, 1 - t, 0, i] = np.log(1 - p)
    return torch.tensor(logits, dtype=torch.float32), torch.tensor([[list(target)]])


def nll(probs):
    return -np.log(np.asarray(probs, dtype=np.float64))


def test_cross_entropy_by_hand():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]]])  # (1, 3, 1, 2)
    target = torch.tensor([[[0, 2]]])
    z0, z1 = np.array([2.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])
    expected = np.mean([-(z0[0] - np.log(np.exp(z0).sum())), -(z1[2] - np.log(np.exp(z1).sum()))])
    loss = CrossEntropy()(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("ignore", [-1, 255])
def test_cross_entropy_skips_ignored_pixels(ignore):
    logits, target = two_class_logits([0.2, 0.6, 0.9], [0, 1, 0])
    target[0, 0, 1] = ignore
    loss = CrossEntropy(ignore_label=ignore)(logits, target)
    assert loss.item() == pytest.approx(nll([0.2, 0.9]).mean())


def test_cross_entropy_class_weights_give_weighted_mean():
    logits, target = two_class_logits([0.2, 0.6, 0.9], [0, 1, 0])
    w = np.array([2.0, 0.5])
    expected = (w[[0, 1, 0]] * nll([0.2, 0.6, 0.9])).sum() / w[[0, 1, 0]].sum()
    loss = CrossEntropy(weight=w.tolist())(logits, target)
    assert loss.item() == pytest.approx(expected)


def test_all_ignored_gives_zero_and_a_gradient():
    for criterion in (CrossEntropy(weight=[1.0, 2.0]), OhemCrossEntropy(min_kept=1)):
        logits = torch.randn(1, 2, 2, 2, requires_grad=True)
        loss = criterion(logits, torch.full((1, 2, 2), -1))
        loss.backward()
        assert loss.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parametrize(
    "align_corners, fractions", [(True, [0, 1 / 3, 2 / 3, 1]), (False, [0, 0.25, 0.75, 1])]
)
def test_logits_are_upsampled_to_the_label_size(align_corners, fractions):
    # class-0 logit goes bilinearly from a=0 to b=3 along the row; class 1 stays 0
    logits = torch.tensor([[[[0.0, 3.0]], [[0.0, 0.0]]]])
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    z = 3.0 * np.array(fractions)
    expected = np.mean(np.log1p(np.exp(-z)))  # -log(e^z / (e^z + 1))
    loss = CrossEntropy(align_corners=align_corners)(logits, target)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


PROBS = [0.1, 0.3, 0.6, 0.8, 0.95]
TARGET = [0, 1, 1, 0, 1]


@pytest.mark.parametrize(
    "thres, min_kept, kept",
    [
        (0.7, 1, [0.1, 0.3, 0.6]),  # prob[1]=0.3 < thres: threshold 0.7
        (0.7, 3, [0.1, 0.3, 0.6]),  # prob[3]=0.8 is the threshold, not below it
        (0.7, 4, [0.1, 0.3, 0.6, 0.8]),  # threshold prob[4]=0.95
        (0.7, 100, [0.1, 0.3, 0.6, 0.8]),  # min_kept beyond n: prob[n-1]
        (0.5, 0, [0.1, 0.3]),  # min_kept 0 behaves as 1; threshold 0.5
        (0.99, 2, PROBS),
    ],
)
def test_ohem_keeps_pixels_below_the_threshold(thres, min_kept, kept):
    logits, target = two_class_logits(PROBS, TARGET)
    loss = OhemCrossEntropy(thres=thres, min_kept=min_kept)(logits, target)
    assert loss.item() == pytest.approx(nll(kept).mean())


def test_ohem_skips_ignored_and_uses_weighted_pixel_losses():
    logits, target = two_class_logits(PROBS, TARGET)
    target[0, 0, 0] = 255  # the hardest pixel is ignored
    w = np.array([3.0, 0.5])
    loss = OhemCrossEntropy(ignore_label=255, thres=0.7, min_kept=1, weight=w.tolist())(
        logits, target
    )
    # kept: probs 0.3 and 0.6, both class 1; plain mean of weighted losses
    assert loss.item() == pytest.approx((0.5 * nll([0.3, 0.6])).mean())


def test_ohem_all_confident_gives_zero_not_nan():
    logits, target = two_class_logits([0.9, 0.9, 0.9], [0, 1, 0])
    loss = OhemCrossEntropy(thres=0.7, min_kept=1)(logits, target)
    assert loss.item() == 0.0


def test_balance_weights_over_outputs():
    aux, target = two_class_logits([0.2, 0.6, 0.9], [0, 1, 0])
    main, _ = two_class_logits([0.5, 0.75, 0.95], [0, 1, 0])
    ce = CrossEntropy(balance_weights=[0.4, 1.0])([aux, main], target)
    aux_ce = nll([0.2, 0.6, 0.9]).mean()
    assert ce.item() == pytest.approx(0.4 * aux_ce + nll([0.5, 0.75, 0.95]).mean())
    ohem = OhemCrossEntropy(thres=0.7, min_kept=1, balance_weights=[0.4, 1.0])([aux, main], target)
    # OHEM on the main output only: kept 0.5 (0.75 and 0.95 are above 0.7)
    assert ohem.item() == pytest.approx(0.4 * aux_ce + nll([0.5]).mean())


def test_output_count_must_match_balance_weights():
    logits, target = two_class_logits([0.2], [0])
    with pytest.raises(ValueError, match=r"2 outputs .* 1 weights \[1\.0\]"):
        CrossEntropy()([logits, logits], target)


def test_class_weights_are_in_the_state_dict_as_criterion_weight():
    for cls in (CrossEntropy, OhemCrossEntropy):
        assert list(cls(weight=[1.0, 2.0]).state_dict()) == ["criterion.weight"]
        assert list(cls().state_dict()) == []


def test_gradient_flows():
    logits = torch.randn(2, 3, 2, 2, requires_grad=True)
    target = torch.randint(0, 3, (2, 8, 8))
    OhemCrossEntropy(min_kept=5)(logits, target).backward()
    assert logits.grad.abs().sum() > 0


def make_cfg(**loss):
    cfg = get_defaults()
    cfg.DATASET.NUM_CLASSES = 2
    cfg.TRAIN.IGNORE_LABEL = 255
    cfg.MODEL.ALIGN_CORNERS = False
    for key, value in loss.items():
        cfg.LOSS[key] = value
    cfg.freeze()
    return cfg


def test_build_criterion_from_config():
    ce = build_criterion(make_cfg(), class_weights=[1.0, 2.0])
    assert isinstance(ce, CrossEntropy) and ce.ignore_label == 255 and not ce.align_corners
    assert torch.equal(ce.criterion.weight, torch.tensor([1.0, 2.0]))
    ohem = build_criterion(
        make_cfg(USE_OHEM=True, OHEMTHRES=0.8, OHEMKEEP=0, BALANCE_WEIGHTS=[0.4, 1])
    )
    assert isinstance(ohem, OhemCrossEntropy)
    assert (ohem.thres, ohem.min_kept, ohem.balance_weights) == (0.8, 1, [0.4, 1.0])
    assert ohem.criterion.weight is None
    assert build_criterion(make_cfg(), class_weights=[]).criterion.weight is None


def test_build_criterion_rejects_wrong_weight_count():
    with pytest.raises(ValueError, match="3 class weights given for DATASET.NUM_CLASSES 2"):
        build_criterion(make_cfg(), class_weights=[1.0, 1.0, 1.0])


def test_ohem_matches_the_sorted_numpy_rule_on_random_data():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 5, generator=generator)
    target = torch.randint(0, 4, (2, 6, 5), generator=generator)
    target[0, :2] = -1
    prob = logits.softmax(1).numpy()
    t = target.numpy()
    valid = t != -1
    gt_prob = np.take_along_axis(prob, np.where(valid, t, 0)[:, None], 1)[:, 0][valid]
    losses = -np.log(gt_prob)
    order = np.argsort(gt_prob)
    sorted_prob, sorted_loss = gt_prob[order], losses[order]
    for thres, min_kept in [(0.7, 10), (0.2, 30), (0.1, 5)]:
        threshold = max(sorted_prob[min(min_kept, len(sorted_prob) - 1)], thres)
        expected = sorted_loss[sorted_prob < threshold].mean()
        loss = OhemCrossEntropy(thres=thres, min_kept=min_kept)(logits, target)
        assert loss.item() == pytest.approx(expected, rel=1e-5)


def reference_ohem(logits, target, ignore, thres, min_kept):
    """OHEM written plainly: the (min_kept+1)-th smallest ground-truth probability among the
    valid pixels (or the largest when fewer are valid) and thres bound the kept pixels."""
    probs = logits.softmax(1)
    losses, kept_probs = [], []
    for index in zip(*torch.nonzero(target != ignore, as_tuple=True), strict=True):
        b, y, x = (int(i) for i in index)
        label = int(target[b, y, x])
        kept_probs.append(float(probs[b, label, y, x]))
        losses.append(-float(torch.log_softmax(logits[b, :, y, x], 0)[label]))
    if not kept_probs:
        return 0.0
    ordered = sorted(kept_probs)
    threshold = max(ordered[min(min_kept, len(ordered) - 1)], thres)
    chosen = [loss for p, loss in zip(kept_probs, losses, strict=True) if p < threshold]
    return float(np.mean(chosen)) if chosen else 0.0


@pytest.mark.parametrize("seed", range(6))
def test_ohem_equals_the_plain_algorithm_on_random_batches(seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 3, 5, 6, generator=generator) * 2
    target = torch.randint(0, 3, (2, 5, 6), generator=generator)
    ignored = torch.rand(2, 5, 6, generator=generator) < [0.0, 0.3, 0.9, 1.0, 0.5, 0.2][seed]
    target[ignored] = 255
    for thres, min_kept in ((0.7, 5), (0.3, 1000), (0.9, 1), (0.5, 59)):
        loss = OhemCrossEntropy(ignore_label=255, thres=thres, min_kept=min_kept)(logits, target)
        expected = reference_ohem(logits, target, 255, thres, min_kept)
        assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-7), (thres, min_kept)


def test_ohem_averages_the_aux_loss_over_all_pixels_as_the_original():
    """The original's OHEM returned `0.4 * aux_pixel_map + ohem` and averaged it: the aux pixel
    losses (class-weighted, 0 where ignored) over every pixel, ignored ones included."""
    aux, target = two_class_logits([0.2, 0.6, 0.9, 0.3], [0, 1, 0, 0])
    main, _ = two_class_logits([0.5, 0.75, 0.95, 0.5], [0, 1, 0, 0])
    target[0, 0, 3] = 255
    weight = torch.tensor([1.0, 2.0])
    ohem = OhemCrossEntropy(
        ignore_label=255, thres=0.7, min_kept=1, weight=weight, balance_weights=[0.4, 1.0]
    )([aux, main], target)
    aux_pixels = nll([0.2, 0.6, 0.9]) * [1.0, 2.0, 1.0]
    assert ohem.item() == pytest.approx(0.4 * aux_pixels.sum() / 4 + nll([0.5]).mean())


@pytest.mark.parametrize(
    "criterion",
    [
        CrossEntropy(ignore_label=255, weight=[1.0, 2.0, 0.5]),
        OhemCrossEntropy(ignore_label=255, min_kept=20, weight=[1.0, 2.0, 0.5]),
    ],
    ids=["ce", "ohem"],
)
@pytest.mark.parametrize("size", [(16, 24), (8, 12)], ids=["label-size", "upsampled"])
def test_channels_last_logits_give_the_loss_and_gradient_of_nchw_ones(criterion, size):
    """channels_last logits take another path (along the contiguous class axis); it gives the
    same values, and passes a channels_last gradient on to the model."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, *size, generator=generator, requires_grad=True)
    target = torch.randint(0, 3, (2, 16, 24), generator=generator)
    target[0, :4] = 255
    results = []
    for memory_format in (torch.contiguous_format, torch.channels_last):
        x = logits.contiguous(memory_format=memory_format) * 1.0  # a model's output, not a leaf
        x.register_hook(lambda grad: results.append(grad))
        results.append(criterion(x, target))
        results[-1].backward()
    loss, grad, cl_loss, cl_grad = results
    torch.testing.assert_close(cl_loss, loss)
    torch.testing.assert_close(cl_grad, grad)
    assert cl_grad.is_contiguous(memory_format=torch.channels_last)
