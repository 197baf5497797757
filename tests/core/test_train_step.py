"""One training step with each speed / memory option (channels_last, mixed precision, activation
checkpointing), the precision rule, and the optimizers."""

import copy
from collections import Counter

import pytest
import torch

import models
from core.criterion import build_criterion
from core.train_step import TrainStep, build_optimizer, training_dtype
from helpers.kernel_calls import norm_backward_channels, upsampling_backward_channels_last
from helpers.model_specs import tiny_config
from utils.distributed import DistInfo
from utils.errors import ConfigError

CPU = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))


def band_batch(batch=2, height=64, width=96, num_classes=5):
    """uint8 images whose colour gives the class of five horizontal bands, and those labels."""
    generator = torch.Generator().manual_seed(0)
    labels = (torch.arange(height) * num_classes // height)[None, :, None]
    labels = labels.expand(batch, height, width).contiguous()
    colours = torch.randint(0, 256, (num_classes, 3), generator=generator, dtype=torch.uint8)
    images = colours[labels].permute(0, 3, 1, 2).contiguous()
    noise = torch.randint(-20, 21, images.shape, generator=generator)
    return (images.int() + noise).clamp(0, 255).to(torch.uint8), labels


def losses_of(cfg, steps=6, model=None):
    torch.manual_seed(0)
    model = model if model is not None else models.build_model(cfg)
    step = TrainStep(cfg, model, build_criterion(cfg), CPU)
    images, labels = band_batch(num_classes=cfg.DATASET.NUM_CLASSES)
    return [step(images, labels).item() for _ in range(steps)], step


def he_normal_convolutions(model):
    """He-normal convolution weights: gradients well above float rounding."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)


TRAINING = ["TRAIN.OPTIMIZER", "adam", "TRAIN.LR", "0.01"]


@pytest.mark.parametrize(
    "opts",
    [
        ["TRAIN.CHANNELS_LAST", "False"],  # the original's layout, float32
        ["TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", "bf16"],  # channels_last + bf16 autocast
        ["TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", "bf16", "TRAIN.GRAD_CHECKPOINT", "True"],
        ["TRAIN.OPTIMIZER", "sgd", "TRAIN.LR", "0.05"],
    ],
    ids=["nchw-fp32", "channels-last-bf16", "bf16-checkpointed", "sgd"],
)
def test_a_few_steps_lower_the_loss(opts):
    cfg = tiny_config("seg_hrnet", 5, *TRAINING, *opts)
    losses, step = losses_of(cfg)
    assert losses[-1] < 0.8 * losses[0], losses
    expected = torch.channels_last if cfg.TRAIN.CHANNELS_LAST else torch.contiguous_format
    assert step.net.conv1.weight.is_contiguous(memory_format=expected)


def test_a_checkpointed_step_gives_the_plain_step():
    """One checkpointed step (the head and the backbone recomputed) updates the weights as the
    plain one."""
    cfg = tiny_config("seg_hrnet", 5, "TRAIN.CHANNELS_LAST", "False")
    torch.manual_seed(0)
    model = models.build_model(cfg)
    he_normal_convolutions(model)
    images, labels = band_batch(num_classes=5)
    updated = []
    for opts in ([], ["TRAIN.GRAD_CHECKPOINT", "True"]):
        step_cfg = tiny_config("seg_hrnet", 5, "TRAIN.CHANNELS_LAST", "False", *opts)
        step = TrainStep(step_cfg, copy.deepcopy(model), build_criterion(step_cfg), CPU)
        loss = step(images, labels)
        updated.append((loss, step.net.state_dict()))
    (loss, plain), (checkpointed_loss, checkpointed) = updated
    torch.testing.assert_close(checkpointed_loss, loss)
    for key, value in plain.items():
        torch.testing.assert_close(checkpointed[key], value, rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize("checkpointed", [False, True])
def test_checkpointing_recomputes_the_head_but_not_the_loss(checkpointed):
    """The backward pass starts with the loss: recomputing it would only cost time."""
    cfg = tiny_config("seg_hrnet", 5, "TRAIN.GRAD_CHECKPOINT", str(checkpointed))
    step = TrainStep(cfg, models.build_model(cfg), build_criterion(cfg), CPU)
    calls = Counter()
    step.net.last_layer.register_forward_pre_hook(lambda *_: calls.update(["head"]))
    step.criterion.register_forward_pre_hook(lambda *_: calls.update(["loss"]))
    step(*band_batch(num_classes=5))
    assert calls == {"head": 2 if checkpointed else 1, "loss": 1}


def test_float16_gets_a_gradient_scaler_and_bfloat16_none():
    fp16 = tiny_config("seg_hrnet", 5, "TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", "fp16")
    bf16 = tiny_config("seg_hrnet", 5, "TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", "bf16")
    model = models.build_model(fp16)
    assert TrainStep(fp16, model, build_criterion(fp16), CPU).scaler is not None
    assert TrainStep(bf16, model, build_criterion(bf16), CPU).scaler is None


def test_precision_follows_the_keys(monkeypatch):
    cpu = torch.device("cpu")
    assert training_dtype(tiny_config(), cpu) is None  # the original YAMLs: float32
    amp = tiny_config("seg_hrnet", 5, "TRAIN.AMP", "True")
    monkeypatch.setattr("utils.precision.native_bf16", lambda device: True)
    assert training_dtype(amp, cpu) == torch.bfloat16
    assert training_dtype(amp, torch.device("cuda")) == torch.float16
    monkeypatch.setattr("utils.precision.native_bf16", lambda device: False)
    assert training_dtype(amp, cpu) is None  # emulated bf16 is slower than float32
    forced = tiny_config("seg_hrnet", 5, "TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", "bf16")
    assert training_dtype(forced, torch.device("cuda")) == torch.bfloat16
    with pytest.raises(ConfigError, match="TRAIN.AMP_DTYPE is 'half'"):
        training_dtype(tiny_config("seg_hrnet", 5, *amp_dtype("half")), cpu)


def amp_dtype(name):
    return ["TRAIN.AMP", "True", "TRAIN.AMP_DTYPE", name]


def test_checkpointing_a_model_without_stages_is_a_config_error():
    cfg = tiny_config("seg_hrnet", 5, "TRAIN.GRAD_CHECKPOINT", "True")
    with pytest.raises(ConfigError, match="TRAIN.GRAD_CHECKPOINT"):
        TrainStep(cfg, torch.nn.Conv2d(3, 5, 1), build_criterion(cfg), CPU)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_fused_and_default_optimizers_take_the_same_step(name):
    cfg = tiny_config("seg_hrnet", 5, "TRAIN.OPTIMIZER", name, "TRAIN.WD", "0.01")
    model = torch.nn.Conv2d(3, 4, 3)
    results = []
    for fused in (True, False):
        copy_ = copy.deepcopy(model)
        optimizer = build_optimizer(cfg, copy_, fused=fused)
        assert optimizer.defaults.get("fused") is (True if fused else None)
        for _ in range(3):
            copy_(torch.ones(1, 3, 5, 5)).square().sum().backward()
            optimizer.step()
        results.append(copy_.weight.detach())
    torch.testing.assert_close(results[0], results[1])


@pytest.mark.parametrize("free_grads", [True, False])
def test_gradients_are_freed_before_the_forward_pass_unless_kept(free_grads):
    """By default the forward pass runs without the last step's gradients in memory;
    `free_grads=False` zeroes them in place as PyTorch 1.x did (the benchmark's original path)."""
    cfg = tiny_config("seg_hrnet", 5, *TRAINING)
    step = TrainStep(cfg, models.build_model(cfg), build_criterion(cfg), CPU, free_grads=free_grads)
    images, labels = band_batch()
    step(images, labels)
    weight = step.net.conv1.weight
    kept = weight.grad
    seen = []
    step.net.register_forward_hook(lambda *_: seen.append(weight.grad))
    step(images, labels)
    if free_grads:
        assert seen == [None]
    else:
        assert seen[0] is kept and weight.grad is kept  # the same tensor, zeroed and refilled
        assert not torch.equal(kept, torch.zeros_like(kept))


@pytest.mark.parametrize("name", ["seg_hrnet", "seg_hrnet_ocr"])
def test_upsampling_is_given_channels_last_gradients_in_a_channels_last_step(name):
    """Every upsampling's backward (head and loss) runs PyTorch's fast channels_last kernel, and
    the step updates the weights as one in the original's layout."""
    balance = ["LOSS.BALANCE_WEIGHTS", "[0.4, 1.0]"] if name == "seg_hrnet_ocr" else []
    torch.manual_seed(0)
    model = models.build_model(tiny_config(name, 5, *balance))
    he_normal_convolutions(model)
    images, labels = band_batch(num_classes=5)
    updated = []
    for layout in ("False", "True"):
        cfg = tiny_config(name, 5, "TRAIN.CHANNELS_LAST", layout, *balance)
        step = TrainStep(cfg, copy.deepcopy(model), build_criterion(cfg), CPU)
        torch.manual_seed(1)  # OCR's dropout
        with upsampling_backward_channels_last() as gradients:
            step(images, labels)
        updated.append(step.net.state_dict())
    assert len(gradients.seen) >= 4 and all(gradients.seen)
    for key, value in updated[0].items():
        torch.testing.assert_close(updated[1][key], value, rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize(
    "opts, padded_norms, padded",
    [
        ([], True, True),
        (["TRAIN.AMP", "True", "TRAIN.GRAD_CHECKPOINT", "True"], True, True),
        ([], False, False),
        (["TRAIN.CHANNELS_LAST", "False"], True, False),
    ],
    ids=["channels-last", "bf16-checkpointed", "native", "nchw"],
)
def test_few_channel_norms_run_their_backward_padded_in_a_channels_last_step(
    opts, padded_norms, padded
):
    """The tiny model's 4- and 8-channel BatchNorms (models.padded_batchnorm), unless asked not
    to or in the original's layout."""
    cfg = tiny_config("seg_hrnet", 5, *opts)
    step = TrainStep(
        cfg, models.build_model(cfg), build_criterion(cfg), CPU, padded_norms=padded_norms
    )
    with norm_backward_channels() as norms:
        loss = step(*band_batch())
    assert torch.isfinite(loss)
    assert {16, 32, 64} <= set(norms.seen)
    assert set(norms.seen).isdisjoint({4, 8}) is padded
