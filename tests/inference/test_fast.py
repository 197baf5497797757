"""BatchNorm folding and the exact and fast inference modes."""

import pytest
import torch
from torch import nn

from helpers.trained_models import smooth_input, tiny_model
from inference import fold_batchnorm, optimize


def main_output(outputs):
    return outputs[-1] if isinstance(outputs, list) else outputs


def count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize(("name", "steps"), [("seg_hrnet", 12), ("seg_hrnet_ocr", 0)])
def test_exact_mode_gives_the_eager_predictions(name, steps):
    model = tiny_model(name, steps=steps)
    x = smooth_input(2, 64, 96, seed=7)
    with torch.no_grad():
        expected = model(x)
        actual = optimize(model, "exact")(x)
    for e, a in zip(*(o if isinstance(o, list) else [o] for o in (expected, actual)), strict=True):
        assert a.dtype == torch.float32 and a.shape == e.shape
        assert (a - e).abs().max() <= 1e-4 * e.abs().max()
        assert torch.equal(a.argmax(1), e.argmax(1))


def test_fast_mode_agrees_on_99_percent_of_pixels():
    model = tiny_model("seg_hrnet")
    x = smooth_input(4, 64, 96, seed=7)
    with torch.no_grad():
        expected = model(x).argmax(1)
        fast = optimize(model, "fast")
        actual = fast(x)
    assert fast.dtype == torch.bfloat16 and actual.dtype == torch.float32
    assert (actual.argmax(1) == expected).float().mean() >= 0.99


@pytest.mark.parametrize("name", ["seg_hrnet", "seg_hrnet_ocr"])
def test_every_batchnorm_of_hrnet_and_ocr_is_folded(name):
    model = tiny_model(name, steps=0)
    norms = count(model, nn.BatchNorm2d)
    optimized = optimize(model, "exact")
    assert count(optimized, nn.BatchNorm2d) == 0
    assert count(model, nn.BatchNorm2d) == norms  # the original is untouched
    first = next(m for m in optimized.modules() if isinstance(m, nn.Conv2d))
    assert first.bias is not None
    assert first.weight.is_contiguous(memory_format=torch.channels_last)


class Branches(nn.Module):
    """conv->bn (foldable), bn after a ReLU, a conv feeding two BatchNorms, a conv called twice."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.after_relu = nn.BatchNorm2d(4)
        self.shared = nn.Conv2d(4, 4, 1, bias=False)
        self.left = nn.BatchNorm2d(4)
        self.right = nn.BatchNorm2d(4)
        self.twice = nn.Conv2d(4, 4, 1)
        self.once = nn.BatchNorm2d(4)

    def forward(self, x):
        x = self.after_relu(torch.relu(self.bn(self.conv(x))))
        y = self.shared(x)
        x = self.left(y) + self.right(y)
        return self.once(self.twice(x)) + self.twice(x)


def test_only_batchnorms_fed_by_one_convolution_alone_are_folded():
    torch.manual_seed(0)
    model = Branches()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -1, 1)
    model.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model(x)
        assert fold_batchnorm(model, x) == 1
        actual = model(x)
    assert isinstance(model.bn, nn.Identity)
    assert all(
        isinstance(getattr(model, n), nn.BatchNorm2d)
        for n in ("after_relu", "left", "right", "once")
    )
    assert torch.allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="exact, fast"):
        optimize(nn.Conv2d(3, 3, 1), "turbo")


def test_compiled_exact_mode_freezes_and_fuses_the_convolutions():
    model = tiny_model("seg_hrnet", steps=12)
    x = smooth_input(1, 64, 96, seed=3)
    compiled = optimize(model, "exact", compile=True)
    with torch.no_grad():
        expected = model(x)
        compiled(x)  # compiles
        with torch.profiler.profile() as profile:
            actual = compiled(x)
    assert (actual - expected).abs().max() <= 1e-4 * expected.abs().max()
    assert torch.equal(actual.argmax(1), expected.argmax(1))
    # freezing prepacks the weights into oneDNN convolutions fused with their ReLU / add
    ops = {event.key for event in profile.key_averages()}
    assert any(op.startswith("mkldnn::_convolution_pointwise") for op in ops), sorted(ops)


def test_compile_freezing_is_scoped_to_the_compiled_model():
    """Inductor's `freezing` is set around the optimised model's calls only, so it does not leak
    into other compiled models (training's TRAIN.COMPILE)."""
    from torch._inductor import config as inductor_config

    before = inductor_config.freezing
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).eval()
    compiled = optimize(model, "exact", compile=True)
    assert inductor_config.freezing == before
    x = torch.randn(1, 3, 16, 16)
    seen = []
    compiled.model.register_forward_pre_hook(lambda *_: seen.append(inductor_config.freezing))
    with torch.no_grad():
        expected = model(x)
        actual = compiled(x)  # compiles
    assert seen == [True]  # set while this model runs (and compiles)
    assert inductor_config.freezing == before
    assert torch.allclose(actual, expected, rtol=1e-4, atol=1e-5)
