"""HANet and HRNet + HANet: the fork's parameter layout, the positional-encoding switch, outputs."""

import pytest
import torch
import torch.nn.functional as F

import models
from config import load_config
from helpers.model_checks import (
    assert_fork_checkpoint_reproduces_outputs,
    height_band_losses,
    manifest,
)
from helpers.model_specs import experiment, tiny_config
from models.hanet import HANet, RowPositionEncoding, sinusoid_table
from utils.errors import ConfigError

FORK_W32 = "cityscapes/seg_hrnet_w32.yaml"
NEW_W32_HANET = "cityscapes/seg_hrnet_w32_hanet_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"


def state_keys(model):
    return [
        [k, list(t.shape), str(t.dtype).replace("torch.", "")]
        for k, t in model.state_dict().items()
    ]


@pytest.mark.parametrize(
    ("name", "opts"),
    [
        ("fork_hrnet_w32_cityscapes", []),
        ("fork_hrnet_w32_hanet_cityscapes", ["MODEL.NAME", "seg_hrnet_hanet"]),
    ],
)
def test_fork_w32_yaml_matches_the_fork_manifest(name, opts):
    expected = manifest(name)
    with torch.device("meta"):
        model = models.build_model(experiment(FORK_W32, *opts))
    assert state_keys(model) == expected["keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_params"]


def test_positional_encoding_defaults():
    """The unchanged fork YAML gets the fork (off); the new YAML writes the paper's choice (on)."""
    assert experiment(FORK_W32).MODEL.HANET.POS_ENCODING is False
    new = experiment(NEW_W32_HANET)
    assert new.MODEL.NAME == "seg_hrnet_hanet" and new.MODEL.HANET.POS_ENCODING is True
    defaults = load_config().MODEL.HANET
    assert (defaults.KERNEL_SIZE, defaults.R_FACTOR, defaults.LAYERS) == (3, 64, 3)
    assert (defaults.POS_INJECTION, defaults.POS_RFACTOR, defaults.POOLING) == (2, 8, "mean")
    assert (defaults.DROPOUT, defaults.POS_NOISE) == (0.1, 0.5)


def test_hanet_width_comes_from_the_backbone():
    cfg = tiny_config("seg_hrnet_hanet", 5, "MODEL.EXTRA.STAGE4.NUM_CHANNELS", "[6, 8, 16, 32]")
    state = models.build_model(cfg).state_dict()
    assert state["hanet3_0.attention_first.0.weight"].shape == (1, 4, 1)  # stage-2 branch 0
    assert state["hanet3_0.attention_third.0.weight"].shape == (6, 2, 3)  # stage-4 branch 0


def test_odd_input_gives_quarter_resolution_logits():
    model = models.build_model(tiny_config("seg_hrnet_hanet", 5)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 97, 131))
    assert out.shape == (1, 5, 25, 33)


def fork_hanet(hanet, low, high):
    """The fork's HANet_Conv.forward(x, out, pos=None) in eval mode, written out."""
    profile = F.adaptive_avg_pool2d(low, (16, 1)).squeeze(3)
    profile = hanet.attention_third(hanet.attention_second(hanet.attention_first(profile)))
    attention = F.interpolate(torch.sigmoid(profile), size=high.shape[2], mode="linear")
    return torch.mul(high, attention.unsqueeze(3))


def test_positional_encoding_changes_the_output_only_when_on():
    torch.manual_seed(0)
    off = HANet(32, 24, pos_encoding=False).eval()
    on = HANet(32, 24, pos_encoding=True).eval()
    on.load_state_dict(off.state_dict())
    low, high = torch.randn(2, 32, 40, 52), torch.randn(2, 24, 19, 26)
    with torch.no_grad():
        assert torch.allclose(off(low, high), fork_hanet(off, low, high))
        assert not torch.allclose(on(low, high), off(low, high))
        table = on.pos_emb1d_2nd.pos_layer.weight
        table.mul_(0)  # a zero code is no code
        assert torch.allclose(on(low, high), off(low, high))


def test_model_positional_switch():
    torch.manual_seed(0)
    off = models.build_model(tiny_config("seg_hrnet_hanet", 5)).eval()
    for p in off.parameters():  # larger weights than the N(0, 0.001) init, so changes show
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.3)
    on = models.build_model(tiny_config("seg_hrnet_hanet", 5, "MODEL.HANET.POS_ENCODING", "True"))
    on.load_state_dict(off.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert not torch.allclose(off(x), on.eval()(x))


def test_sinusoid_table_is_frozen_and_offset_by_one():
    table = sinusoid_table(17, 4)
    assert table.shape == (17, 4)
    assert torch.equal(table[0], torch.tensor([1.0, 2.0, 1.0, 2.0]))  # sin 0 + 1, cos 0 + 1
    assert table[5, 0] == pytest.approx(1 + torch.sin(torch.tensor(5.0)).item())
    encoding = RowPositionEncoding(17, 4, noise=0.5, max_shift=2)
    assert not encoding.pos_layer.weight.requires_grad


def test_position_noise_only_in_training():
    torch.manual_seed(0)
    encoding = RowPositionEncoding(17, 3, noise=0.5, max_shift=2)
    encoding.pos_layer.weight.copy_(torch.arange(17.0)[:, None].expand(17, 3))  # code = position
    x = torch.zeros(64, 3, 16)
    rows = torch.arange(16.0)
    assert torch.equal(encoding.eval()(x)[:, 0], rows.expand(64, 16))
    shifted = encoding.train()(x)[:, 0]
    assert not torch.equal(shifted, rows.expand(64, 16))
    assert (shifted - rows).abs().max() <= 2 and shifted.min() >= 0 and shifted.max() <= 16


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    cfg = tiny_config("seg_hrnet_hanet", 5, "MODEL.HANET.POS_ENCODING", "True")
    losses = height_band_losses(models.build_model(cfg).train(), align_corners=True)
    assert losses[-1] < losses[0]


def test_fork_layout_checkpoint_loads_strictly_and_reproduces_outputs(tmp_path):
    cfg = tiny_config("seg_hrnet_hanet", 19)
    assert_fork_checkpoint_reproduces_outputs(cfg, tmp_path / "best.pth")


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (["MODEL.HANET.POS_INJECTION", "3"], "POS_INJECTION must be 1 or 2"),
        (["MODEL.HANET.POOLING", "median"], "POOLING must be 'mean' or 'max'"),
        (["MODEL.HANET.POS_RFACTOR", "5"], "POS_RFACTOR must divide 128"),
    ],
)
def test_bad_hanet_options_fail_naming_the_key(opts, message):
    with pytest.raises(ConfigError, match=message):
        models.build_model(tiny_config("seg_hrnet_hanet", 5, *opts))


@pytest.mark.parametrize(("layers", "injection"), [(2, 1), (3, 1), (2, 2)])
def test_other_recipes_build_and_run(layers, injection):
    hanet = HANet(16, 8, layers=layers, pos_injection=injection, pooling="max").eval()
    name = "pos_emb1d_1st" if injection == 1 else "pos_emb1d_2nd"
    assert hasattr(hanet, name) and hasattr(hanet, "attention_third") == (layers == 3)
    out = hanet(torch.randn(1, 16, 20, 20), torch.randn(1, 8, 11, 10))
    assert out.shape == (1, 8, 11, 10)
