"""HRNetV2 and HRNet-OCR: parameter names and shapes of the released models, outputs, FLOPs."""

import pytest
import torch

import models
from helpers.model_checks import manifest
from helpers.model_specs import OCR_W48, W18_SMALL_V1, W18_SMALL_V2, W48, experiment, tiny_config
from utils.errors import ConfigError
from utils.model_info import model_info

MANIFEST_YAMLS = {
    "seg_hrnet_w18_small_v1_cityscapes": W18_SMALL_V1,
    "seg_hrnet_w18_small_v2_cityscapes": W18_SMALL_V2,
    "seg_hrnet_w48_cityscapes": W48,
    "seg_hrnet_w48_lip": "lip/seg_hrnet_w48_473x473_sgd_lr7e-3_wd5e-4_bs_40_epoch150.yaml",
    "seg_hrnet_w48_pascal_ctx_cls59": (
        "pascal_ctx/seg_hrnet_w48_cls59_480x480_sgd_lr4e-3_wd1e-4_bs_16_epoch200.yaml"
    ),
    "seg_hrnet_w48_pascal_ctx_cls60": (
        "pascal_ctx/seg_hrnet_w48_cls60_480x480_sgd_lr4e-3_wd1e-4_bs_16_epoch200.yaml"
    ),
    "seg_hrnet_ocr_w48_cityscapes": OCR_W48,
    "seg_hrnet_ocr_w48_lip": "lip/seg_hrnet_ocr_w48_473x473_sgd_lr7e-3_wd5e-4_bs_40_epoch150.yaml",
    "seg_hrnet_ocr_w48_pascal_ctx_cls59": (
        "pascal_ctx/seg_hrnet_ocr_w48_cls59_520x520_sgd_lr1e-3_wd1e-4_bs_16_epoch200.yaml"
    ),
    "seg_hrnet_ocr_w48_pascal_ctx_cls60": (
        "pascal_ctx/seg_hrnet_ocr_w48_cls60_520x520_sgd_lr1e-3_wd1e-4_bs_16_epoch200.yaml"
    ),
    "seg_hrnet_ocr_w48_ade20k": (
        "ade20k/seg_hrnet_ocr_w48_520x520_ohem_sgd_lr2e-2_wd1e-4_bs_16_epoch120.yaml"
    ),
    "seg_hrnet_ocr_w48_cocostuff": (
        "cocostuff/seg_hrnet_ocr_w48_520x520_ohem_sgd_lr1e-3_wd1e-4_bs_16_epoch110.yaml"
    ),
}


def build_on_meta(cfg):
    with torch.device("meta"):
        return models.build_model(cfg)


@pytest.mark.parametrize("name", sorted(MANIFEST_YAMLS))
def test_state_dict_equals_the_released_manifest(name):
    expected = manifest(name)
    model = build_on_meta(experiment(MANIFEST_YAMLS[name]))
    state = model.state_dict()
    got = [[key, list(t.shape), str(t.dtype).replace("torch.", "")] for key, t in state.items()]
    assert got == expected["keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["num_params"]


def test_seg_hrnet_returns_quarter_resolution_logits():
    model = models.build_model(tiny_config("seg_hrnet", 5)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 5, 16, 24)


def test_ocr_returns_aux_and_main_logits():
    model = models.build_model(tiny_config("seg_hrnet_ocr", 7)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 97, 131))
    assert isinstance(out, list) and len(out) == 2
    assert out[0].shape == out[1].shape == (1, 7, 25, 33)
    assert not torch.allclose(out[0], out[1])


def test_align_corners_changes_the_fusion():
    x = torch.randn(1, 3, 64, 64)
    torch.manual_seed(0)
    a = models.build_model(tiny_config("seg_hrnet", 3, "MODEL.ALIGN_CORNERS", "True")).eval()
    b = models.build_model(tiny_config("seg_hrnet", 3, "MODEL.ALIGN_CORNERS", "False")).eval()
    b.load_state_dict(a.state_dict())
    for p in a.parameters():  # larger weights so the resize difference is visible
        torch.nn.init.normal_(p, std=0.3)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


@pytest.mark.parametrize("setting, expected", [("0", 0.1), ("0.01", 0.01)])
def test_bn_momentum_is_the_ocr_branch_one_unless_set(setting, expected):
    """0.1 as the HRNet-OCR branch (and its forks) built HRNetV2; master's YAMLs set 0.01."""
    model = models.build_model(tiny_config("seg_hrnet", 3, "MODEL.BN_MOMENTUM", setting))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and {m.momentum for m in norms} == {expected}


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ConfigError, match="seg_hrnet_ocr"):
        models.build_model(tiny_config("seg_hrnt"))


def test_unknown_extra_key_is_an_error():
    cfg = tiny_config("seg_hrnet", 5, "MODEL.EXTRA.STAGE2.NUM_CHANELS", "[4, 8]")
    with pytest.raises(ConfigError, match="NUM_CHANELS"):
        models.build_model(cfg)


def test_stage1_num_ranches_typo_is_accepted():
    cfg = experiment(W18_SMALL_V1)
    assert "NUM_RANCHES" in cfg.MODEL.EXTRA.STAGE1
    build_on_meta(cfg)


@pytest.mark.parametrize(
    "yaml, params_m, legacy_gflops",
    [(W18_SMALL_V1, 1.5, 31.1), (W18_SMALL_V2, 3.9, 71.6), (W48, 65.8, 696.2)],
)
def test_params_and_flops_match_the_published_figures(yaml, params_m, legacy_gflops):
    info = model_info(build_on_meta(experiment(yaml)), (1024, 2048))
    # Published params have one decimal (1.54M is "1.5M", 65.86M is "65.8M").
    assert abs(info["params"] / 1e6 - params_m) < 0.1
    assert info["legacy_gflops"] == pytest.approx(legacy_gflops, rel=0.02)
    assert info["gmacs"] == pytest.approx(info["legacy_gflops"] * 2**30 / 1e9)
