"""Activation checkpointing: the same gradients and BatchNorm statistics as the plain model, for
every model that supports it, with unchanged parameter names."""

import copy

import pytest
import torch

import models
from helpers.model_specs import experiment, tiny_config
from models.checkpointing import set_grad_checkpoint

# The fork's Lite-HRNet at a fraction of the width and depth (two modules in the first stage).
SMALL_LITE = [
    "DATASET.NUM_CLASSES", "5",
    "MODEL.EXTRA.stages_spec.num_modules", "[2, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_blocks", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_channels", "[[8, 16], [8, 16, 32], [8, 16, 32, 64]]",
]  # fmt: skip
CONFIGS = {
    "seg_hrnet": lambda: tiny_config("seg_hrnet", 5),
    "seg_hrnet_ocr": lambda: tiny_config("seg_hrnet_ocr", 5),
    "seg_hrnet_hanet": lambda: tiny_config(
        "seg_hrnet_hanet", 5, "MODEL.HANET.POS_ENCODING", "True"
    ),
    "seg_litehrnet": lambda: experiment("cityscapes/seg_lite_hrnet_w32.yaml", *SMALL_LITE),
}


def one_backward(model, x):
    """Gradients and buffers after one training forward / backward (fixed random state: HANet
    draws position noise and dropout)."""
    torch.manual_seed(1)
    outputs = model(x)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    sum(o.square().mean() for o in outputs).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    return grads, {name: b.clone() for name, b in model.named_buffers()}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_checkpointed_model_gives_the_plain_gradients_and_statistics(name):
    torch.manual_seed(0)
    plain = models.build_model(CONFIGS[name]()).train()
    for module in plain.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)
    checkpointed = copy.deepcopy(plain)
    assert set_grad_checkpoint(checkpointed)
    assert list(checkpointed.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 64, 96)
    grads, buffers = one_backward(plain, x)
    checkpointed_grads, checkpointed_buffers = one_backward(checkpointed, x)
    assert grads.keys() == checkpointed_grads.keys()
    for key, grad in grads.items():
        if grad is None:  # e.g. parameters the loss does not reach
            assert checkpointed_grads[key] is None, key
            continue
        torch.testing.assert_close(checkpointed_grads[key], grad, rtol=1e-5, atol=1e-7, msg=key)
    moved = 0
    for key, value in buffers.items():  # the running statistics are updated once, not twice
        torch.testing.assert_close(checkpointed_buffers[key], value, rtol=1e-6, atol=0, msg=key)
        moved += key.endswith("running_mean") and not torch.equal(value, torch.zeros_like(value))
    assert moved > 0


def test_models_without_the_switch_say_so():
    assert not set_grad_checkpoint(torch.nn.Conv2d(3, 3, 1))


def test_no_recomputation_without_gradients():
    model = models.build_model(tiny_config("seg_hrnet", 5)).eval()
    set_grad_checkpoint(model)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        checkpointed = model(x)
    set_grad_checkpoint(model, False)
    with torch.no_grad():
        assert torch.equal(model(x), checkpointed)


def saved_for_backward(model, x):
    """Bytes of the tensors the forward pass saves outside checkpointed regions."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    return total


def test_stem_stages_and_head_are_checkpointed():
    """Only the transitions between stages and the regions' inputs stay: about a tenth of what
    the plain model saves (the stem at 1/2 size and the head at 1/4 size were the bulk)."""
    model = models.build_model(tiny_config("seg_hrnet", 5)).train()
    x = torch.randn(2, 3, 64, 96)
    plain = saved_for_backward(model, x)
    set_grad_checkpoint(model)
    assert saved_for_backward(model, x) < 0.15 * plain
