"""Lite-HRNet: the fork's parameter layout, variants as data, heads, odd sizes, weight loading."""

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import models
from helpers.model_checks import (
    assert_fork_checkpoint_reproduces_outputs,
    height_band_losses,
    manifest,
)
from helpers.model_specs import experiment
from utils.errors import ConfigError
from utils.model_info import model_info

FORK = "cityscapes/seg_lite_hrnet_w32.yaml"
RECIPE = "_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
LITE_18 = f"cityscapes/seg_litehrnet_18{RECIPE}"
LITE_30 = f"cityscapes/seg_litehrnet_30{RECIPE}"
NAIVE_18 = f"cityscapes/seg_litehrnet_18_naive{RECIPE}"
WIDER_NAIVE_18 = f"cityscapes/seg_litehrnet_18_wider_naive{RECIPE}"

# The fork's spec at a fraction of the width and depth, so forward passes stay fast.
SMALL = [
    "MODEL.EXTRA.stages_spec.num_modules", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_blocks", "[1, 1, 1]",
    "MODEL.EXTRA.stages_spec.num_channels", "[[8, 16], [8, 16, 32], [8, 16, 32, 64]]",
]  # fmt: skip


def small(yaml=FORK, *opts):
    return experiment(yaml, "DATASET.NUM_CLASSES", "5", *SMALL, *opts)


def state_keys(model):
    return [
        [k, list(t.shape), str(t.dtype).replace("torch.", "")]
        for k, t in model.state_dict().items()
    ]


def test_fork_yaml_matches_the_fork_manifest():
    expected = manifest("fork_lite_hrnet_w32_cityscapes")
    with torch.device("meta"):
        model = models.build_model(experiment(FORK))
    assert state_keys(model) == expected["keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_params"]


def test_fork_yaml_keeps_the_fork_behaviour():
    model = models.build_model(experiment(FORK))
    assert [model.hanet1.pos_encoding, model.hanet4.pos_encoding] == [False, False]
    assert isinstance(model.head_layer.projects[-1].pointwise_conv.act, torch.nn.ReLU)


@pytest.mark.parametrize(
    ("yaml", "paper_params", "paper_gflops"), [(LITE_18, 1.1e6, 1.95), (LITE_30, 1.8e6, 3.02)]
)
def test_new_yamls_match_the_paper_size(yaml, paper_params, paper_gflops):
    """The paper's segmentation GFLOPs are multiply-adds / 2**30 at 512x1024 (legacy_gflops)."""
    cfg = experiment(yaml)
    with torch.device("meta"):
        model = models.build_model(cfg)
    info = model_info(model, (512, 1024))
    assert info["params"] == pytest.approx(paper_params, rel=0.05)
    assert info["legacy_gflops"] == pytest.approx(paper_gflops, rel=0.05)
    assert cfg.MODEL.EXTRA.logits_relu is False and cfg.MODEL.EXTRA.with_hanet is False
    assert not any(k.startswith("hanet") for k in model.state_dict())
    assert model.head_layer.projects[-1].pointwise_conv.act is None


@pytest.mark.parametrize(("yaml", "params"), [(NAIVE_18, 759_486), (WIDER_NAIVE_18, 1_317_046)])
def test_naive_variants_are_data(yaml, params):
    with torch.device("meta"):
        model = models.build_model(experiment(yaml))
    assert sum(p.numel() for p in model.parameters()) == params
    assert "stage0.0.layers.0.0.branch2.1.conv.weight" in model.state_dict()


@pytest.mark.parametrize("yaml", [FORK, NAIVE_18])
def test_odd_input_gives_quarter_resolution_logits(yaml):
    model = models.build_model(small(yaml)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 97, 131))
    assert out.shape == (1, 5, 25, 33)


def test_num_classes_comes_from_the_dataset():
    with torch.device("meta"):
        model = models.build_model(experiment(FORK, "DATASET.NUM_CLASSES", "7"))
    assert model.head_layer.projects[-1].pointwise_conv.conv.weight.shape == (7, 40, 1, 1)


def test_clean_head_is_the_fork_head_without_the_final_relu():
    torch.manual_seed(0)
    fork = models.build_model(small()).eval()
    clean = models.build_model(small(FORK, "MODEL.EXTRA.logits_relu", "False")).eval()
    clean.load_state_dict(fork.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        a, b = fork(x), clean(x)
    assert (b < 0).any()
    assert torch.allclose(a, F.relu(b))


def test_hanet_switch_and_positional_encoding():
    torch.manual_seed(0)
    fork = models.build_model(small()).eval()
    plain = models.build_model(small(FORK, "MODEL.EXTRA.with_hanet", "False")).eval()
    assert not any(k.startswith("hanet") for k in plain.state_dict())
    encoded = models.build_model(small(FORK, "MODEL.HANET.POS_ENCODING", "True")).eval()
    encoded.load_state_dict(fork.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert not torch.allclose(fork(x), encoded(x))


def released_fusion(module, xs):
    """The released LiteHRModule fusion loop, in-place `+=` included (even input sizes)."""
    out, fused = module.layers(xs), []
    for i, row in enumerate(module.fuse_layers):
        y = out[0] if i == 0 else row[0](out[0])
        for j in range(len(out)):
            if i == j:
                y += out[j]
            elif j > i:
                y += F.interpolate(row[j](out[j]), scale_factor=2 ** (j - i), mode="nearest")
            else:
                y += row[j](out[j])
        fused.append(F.relu(y))
    return fused


def test_fusion_equals_the_released_in_place_loop():
    torch.manual_seed(0)
    model = models.build_model(small()).eval()
    module = model.stage2[0]
    xs = [torch.randn(1, c, 32 // 2**k, 48 // 2**k) for k, c in enumerate([8, 16, 32, 64])]
    with torch.no_grad():
        for a, b in zip(module(xs), released_fusion(module, xs), strict=True):
            assert torch.allclose(a, b, atol=1e-5)


def test_fusion_in_training_updates_batchnorm_as_the_released_loop():
    """The released loop applies fuse_layers[i][0] twice: its BatchNorms update twice."""
    torch.manual_seed(0)
    module = models.build_model(small()).train().stage2[0]
    released = copy.deepcopy(module)
    xs = [torch.randn(2, c, 32 // 2**k, 48 // 2**k) for k, c in enumerate([8, 16, 32, 64])]
    with torch.no_grad():
        for a, b in zip(module(xs), released_fusion(released, xs), strict=True):
            assert torch.allclose(a, b, atol=1e-5)
    expected = released.state_dict()
    twice = [k for k, v in expected.items() if k.endswith("num_batches_tracked") and v == 2]
    assert twice and all(k.startswith("fuse_layers.") for k in twice)
    for key, value in module.state_dict().items():
        assert torch.allclose(value.float(), expected[key].float(), atol=1e-6), key


def test_transition_and_fuse_convolutions_keep_pytorchs_default_init():
    """The fork builds them with mmcv's build_conv_layer (plain nn.Conv2d, never re-initialised);
    its ConvModules get kaiming normal (fan_out)."""
    torch.manual_seed(0)
    model = models.build_model(experiment(FORK, "DATASET.NUM_CLASSES", "5"))
    kinds = set()
    for name, m in model.named_modules():
        if not isinstance(m, nn.Conv2d) or m.weight.numel() < 2000:
            continue
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
        plain = name.startswith("transition") or ".fuse_layers." in name
        expected = (1 / (3 * fan_in)) ** 0.5 if plain else (2 / fan_out) ** 0.5
        assert abs(m.weight.std().item() / expected - 1) < 0.15, name
        kinds.add(plain)
    assert kinds == {True, False}


def released_weighting(module, xs):
    """The released CrossResolutionWeighting: every branch adaptive-pooled to the smallest."""
    mini_size = xs[-1].size()[-2:]
    out = torch.cat([F.adaptive_avg_pool2d(s, mini_size) for s in xs[:-1]] + [xs[-1]], dim=1)
    out = torch.split(module.conv2(module.conv1(out)), module.channels, dim=1)
    return [
        s * F.interpolate(a, size=s.size()[-2:], mode="nearest")
        for s, a in zip(xs, out, strict=True)
    ]


@pytest.mark.parametrize("size", [(64, 96), (97, 131)])
def test_cross_resolution_weighting_is_the_released_one_bit_for_bit(size):
    """The export-friendly pooling (models.pooling) runs PyTorch's operator in eager mode."""
    torch.manual_seed(0)
    module = models.build_model(small()).eval().stage2[0].layers[0].cross_resolution_weighting
    sizes = [(-(-size[0] // 2**k), -(-size[1] // 2**k)) for k in range(4)]  # ceil halving
    xs = [torch.randn(2, c, *hw) for c, hw in zip(module.channels, sizes, strict=True)]
    with torch.no_grad():
        for a, b in zip(module(xs), released_weighting(module, xs), strict=True):
            assert torch.equal(a, b)


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = models.build_model(small(FORK, "MODEL.EXTRA.logits_relu", "False")).train()
    losses = height_band_losses(model, align_corners=False)
    assert losses[-1] < losses[0]


def test_fork_layout_checkpoint_loads_strictly_and_reproduces_outputs(tmp_path):
    torch.manual_seed(0)
    assert_fork_checkpoint_reproduces_outputs(small(), tmp_path / "final_state.pth")


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (["MODEL.EXTRA.num_stage", "3"], r"unknown MODEL.EXTRA key\(s\) .*'num_stage'"),
        (["MODEL.EXTRA.stem.stem_chanels", "32"], r"MODEL.EXTRA.stem has keys"),
        (["MODEL.EXTRA.stages_spec.num_modules", "[3, 8]"], r"num_modules has 2 entries"),
        (["MODEL.EXTRA.stages_spec.module_type", "['LITE', 'FAST', 'LITE']"], r"'FAST'"),
        (["MODEL.EXTRA.stages_spec.num_branches", "[2, 3, 3]"], r"stage 2 has num_branches 3"),
        (["MODEL.EXTRA.with_head", "False"], r"with_head must be true"),
        (["MODEL.HANET.LAYERS", "4"], r"MODEL.HANET: LAYERS must be 2 or 3"),
    ],
)
def test_bad_extra_fails_naming_the_key(opts, message):
    with pytest.raises(ConfigError, match=message), torch.device("meta"):
        models.build_model(experiment(FORK, *opts))


def test_head_resizes_as_released_whatever_align_corners():
    """MODEL.ALIGN_CORNERS (false in the fork's YAML) sets the loss and test resizes only; the
    IterativeHead keeps the released align_corners=True, so the logits do not depend on it."""
    torch.manual_seed(0)
    released = models.build_model(small(FORK, "MODEL.ALIGN_CORNERS", "False")).eval()
    other = models.build_model(small(FORK, "MODEL.ALIGN_CORNERS", "True")).eval()
    other.load_state_dict(released.state_dict())
    x = torch.randn(1, 3, 64, 96)
    ys = [torch.randn(1, c, 16 // 2**i, 24 // 2**i) for i, c in enumerate([8, 16, 32, 64])]

    def head_by_hand(align_corners):
        y = None
        for branch, project in zip(reversed(ys), released.head_layer.projects, strict=True):
            if y is not None:
                size = branch.shape[-2:]
                branch = branch + F.interpolate(
                    y, size=size, mode="bilinear", align_corners=align_corners
                )
            y = project(branch)
        return y

    with torch.no_grad():
        assert torch.equal(released(x), other(x))
        logits = released.head_layer(ys)
        assert torch.allclose(logits, head_by_hand(True), atol=1e-6)
        assert not torch.allclose(logits, head_by_hand(False), atol=1e-3)
