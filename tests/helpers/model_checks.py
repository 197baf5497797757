"""Checks shared by the model tests: released manifests, a quick learning task, fork checkpoints."""

import json

import torch
import torch.nn.functional as F

import models
from helpers.paths import TEST_DATA


def manifest(name):
    return json.loads((TEST_DATA / f"{name}.json").read_text())


def height_band_losses(model, align_corners, steps=6):
    """Cross-entropy of `model` (in train mode) over `steps` Adam steps on one random batch whose
    target is five horizontal bands: a task any of our models learns in a few steps."""
    x = torch.randn(2, 3, 64, 96)
    target = (torch.arange(64) * 5 // 64)[None, :, None].expand(2, 64, 96)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        logits = F.interpolate(
            model(x), size=(64, 96), mode="bilinear", align_corners=align_corners
        )
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def assert_fork_checkpoint_reproduces_outputs(cfg, path):
    """A model of `cfg` with random weights saved as the forks save them (`model.` prefix, the
    loss's class weights alongside) loads strictly into a new model with the same outputs."""
    source = models.build_model(cfg).eval()
    generator = torch.Generator().manual_seed(1)
    state = {
        k: (torch.rand(v.shape, generator=generator) + 0.5 if v.dtype.is_floating_point else v)
        for k, v in source.state_dict().items()
    }
    source.load_state_dict(state)
    saved = {f"model.{k}": v for k, v in state.items()}
    torch.save({**saved, "loss.criterion.weight": torch.ones(19)}, path)
    target = models.build_model(cfg).eval()
    models.load_weights(target, path)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(source(x), target(x))
