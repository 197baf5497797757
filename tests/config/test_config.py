"""load_config, the experiment YAMLs and the list files that ship with them."""

import json
import re
from pathlib import Path

import pytest
import yaml
from yacs.config import CfgNode

import models
from config import ConfigError, load_config, unused_settings
from models import seg_hrnet

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
TEST_DATA = ROOT / "tests" / "data"
YAMLS = sorted(EXPERIMENTS.rglob("*.yaml"))
CS_RECIPE = "_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
W48_CS = EXPERIMENTS / f"cityscapes/seg_hrnet_w48{CS_RECIPE}"

# Recipes of the master / pytorch-v1.1 code (and forks of it): F.upsample default, False;
# BatchNorm momentum 0.01.
MASTER_RECIPES = {
    "cityscapes/seg_hrnet_w18_small_v1_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_hrnet_w18_small_v2_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_hrnet_w18_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_hrnet_w32_train_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "pascal_ctx/seg_hrnet_w48_cls59_480x480_sgd_lr4e-3_wd1e-4_bs_16_epoch200.yaml",
    "pascal_ctx/seg_hrnet_w48_cls60_480x480_sgd_lr4e-3_wd1e-4_bs_16_epoch200.yaml",
    "panorama/train.yaml",
}
# Plain HRNet YAMLs of the HRNet-OCR branch that never set the key: that code's default, True.
OCR_BRANCH_PLAIN_DEFAULT = ("ade20k/seg_hrnet_w48_", "cocostuff/seg_hrnet_w48_")


def _rel(path):
    return path.relative_to(EXPERIMENTS).as_posix()


def _model_name(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))["MODEL"]["NAME"]


def _write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_experiments_present():
    assert len(YAMLS) >= 38
    for rel in MASTER_RECIPES:
        assert (EXPERIMENTS / rel).is_file(), rel


# The new recipes this project wrote train in mixed precision; the original YAMLs, and the W18 /
# W32 ones that repeat the original W48 recipe for the original's published W18 / W32 results,
# in float32.
NEW_RECIPES = {
    "cityscapes/seg_hrnet_w32_hanet_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_litehrnet_18_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_litehrnet_18_naive_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_litehrnet_18_wider_naive_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "cityscapes/seg_litehrnet_30_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml",
    "demo/seg_hrnet_w18_small_v1_demo.yaml",
}


@pytest.mark.parametrize("path", YAMLS, ids=_rel)
def test_new_yamls_train_in_mixed_precision_and_the_original_ones_in_fp32(path):
    assert load_config(str(path)).TRAIN.AMP == (_rel(path) in NEW_RECIPES)


@pytest.mark.parametrize("path", YAMLS, ids=_rel)
def test_every_experiment_loads(path):
    cfg = load_config(str(path))
    assert cfg.is_frozen()
    assert cfg.MODEL.NAME in models.model_names()
    assert cfg.DATASET.NUM_CLASSES > 0
    assert len(cfg.TRAIN.IMAGE_SIZE) == 2 and len(cfg.TEST.IMAGE_SIZE) == 2


@pytest.mark.parametrize("path", YAMLS, ids=_rel)
def test_align_corners_is_explicit(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "ALIGN_CORNERS" in raw["MODEL"], f"{path} must set MODEL.ALIGN_CORNERS"
    value = raw["MODEL"]["ALIGN_CORNERS"]
    assert isinstance(value, bool)
    rel = _rel(path)
    if raw["MODEL"]["NAME"] == "seg_hrnet_ocr":
        assert value is True, rel
    elif rel in MASTER_RECIPES:
        assert value is False, rel
    elif rel.startswith(OCR_BRANCH_PLAIN_DEFAULT):
        assert value is True, rel
    else:  # plain HRNet / Lite-HRNet YAMLs of the OCR branch and its forks set False
        assert value is False, rel
    assert load_config(str(path)).MODEL.ALIGN_CORNERS is value


@pytest.mark.parametrize("path", [p for p in YAMLS if _model_name(p) == "seg_hrnet"], ids=_rel)
def test_bn_momentum_is_that_of_the_code_the_yaml_came_with(path):
    """HRNetV2's BatchNorm momentum: 0.01 in master / pytorch-v1.1 (and the panorama fork built
    on it), 0.1 in the HRNet-OCR branch and the forks built on it."""
    cfg = load_config(str(path))
    expected = 0.01 if _rel(path) in MASTER_RECIPES else 0.1
    assert (cfg.MODEL.BN_MOMENTUM or seg_hrnet.BN_MOMENTUM) == expected


def test_official_recipe_values():
    cfg = load_config(str(W48_CS))
    assert cfg.TRAIN.IMAGE_SIZE == [1024, 512]
    assert cfg.TRAIN.LR == 0.01 and cfg.TRAIN.WD == 0.0005 and cfg.TRAIN.END_EPOCH == 484
    assert cfg.TRAIN.IGNORE_LABEL == 255
    assert cfg.GPUS == (0, 1, 2, 3)
    assert cfg.MODEL.EXTRA.STAGE1.NUM_RANCHES == 1  # the original typo loads
    assert cfg.MODEL.EXTRA.STAGE4.NUM_CHANNELS == [48, 96, 192, 384]
    ocr = load_config(str(EXPERIMENTS / f"cityscapes/seg_hrnet_ocr_w48{CS_RECIPE}"))
    assert ocr.LOSS.BALANCE_WEIGHTS == [0.4, 1]


def test_retired_keys_of_the_original_yamls_still_load(tmp_path):
    """The original OCR YAMLs set MODEL.NUM_OUTPUTS, which nothing reads: it is dropped, from
    a YAML and from the command line; a misspelling of it is still an unknown key."""
    cfg_file = _write(tmp_path, "MODEL:\n  NAME: seg_hrnet_ocr\n  NUM_OUTPUTS: 2\n")
    cfg = load_config(str(cfg_file), ["MODEL.NUM_OUTPUTS", "2"])
    assert cfg.MODEL.NAME == "seg_hrnet_ocr" and "NUM_OUTPUTS" not in cfg.MODEL
    with pytest.raises(ConfigError, match="unknown config key MODEL.NUM_OUTPUT"):
        load_config(None, ["MODEL.NUM_OUTPUT", "2"])


def _manifest_widths(name):
    """Stage specs of an ImageNet HRNet classification model, read from its key manifest."""
    keys = {k: shape for k, shape, _ in json.loads((TEST_DATA / name).read_text())["keys"]}

    def indices(pattern):
        return {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}

    spec = {
        "STAGE1": {
            "BLOCK": "BOTTLENECK" if "layer1.0.conv3.weight" in keys else "BASIC",
            "NUM_BLOCKS": [len(indices(r"layer1\.(\d+)\."))],
            "NUM_CHANNELS": [keys["layer1.0.conv1.weight"][0]],
        }
    }
    for s in (2, 3, 4):
        branches = sorted(indices(rf"stage{s}\.0\.branches\.(\d+)\."))
        bottleneck = f"stage{s}.0.branches.0.0.conv3.weight" in keys
        spec[f"STAGE{s}"] = {
            "NUM_MODULES": len(indices(rf"stage{s}\.(\d+)\.")),
            "NUM_BRANCHES": len(branches),
            "BLOCK": "BOTTLENECK" if bottleneck else "BASIC",
            "NUM_BLOCKS": [len(indices(rf"stage{s}\.0\.branches\.{b}\.(\d+)\.")) for b in branches],
            "NUM_CHANNELS": [keys[f"stage{s}.0.branches.{b}.0.conv1.weight"][0] for b in branches],
        }
    return spec


@pytest.mark.parametrize("width", [18, 32])
def test_new_width_yamls_match_imagenet_manifest(width):
    cfg = load_config(str(EXPERIMENTS / f"cityscapes/seg_hrnet_w{width}{CS_RECIPE}"))
    expected = _manifest_widths(f"cls_hrnet_w{width}_imagenet.json")
    assert expected["STAGE4"]["NUM_CHANNELS"] == [width, 2 * width, 4 * width, 8 * width]
    for stage, spec in expected.items():
        for key, value in spec.items():
            assert cfg.MODEL.EXTRA[stage][key] == value, (stage, key)
    assert cfg.MODEL.PRETRAINED == f"pretrained_models/hrnetv2_w{width}_imagenet_pretrained.pth"
    assert cfg.MODEL.ALIGN_CORNERS is False
    assert cfg.DATASET.ROOT == "data/"
    w48 = load_config(str(W48_CS))
    for section in ("TRAIN", "TEST", "LOSS"):
        assert cfg[section] == w48[section], section


def test_w48_manifest_matches_w48_yaml():
    cfg = load_config(str(W48_CS))
    for stage, spec in _manifest_widths("cls_hrnet_w48_imagenet.json").items():
        for key, value in spec.items():
            assert cfg.MODEL.EXTRA[stage][key] == value, (stage, key)


def test_misspelled_key_in_file(tmp_path):
    path = _write(tmp_path, "TRAIN:\n  LRR: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    assert "TRAIN.LRR" in message and str(path) in message and "TRAIN.LR?" in message


def test_misspelled_section_in_file(tmp_path):
    path = _write(tmp_path, "TRAINN:\n  LR: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config key TRAINN; did you mean TRAIN\?"):
        load_config(str(path))


def test_misspelled_option():
    with pytest.raises(ConfigError, match=r"command line.*TRAIN\.LRR.*did you mean TRAIN\.LR\?"):
        load_config(None, ["TRAIN.LRR", "0.1"])
    with pytest.raises(ConfigError, match=r"TRAINN\.LR.*did you mean TRAIN\.LR\?"):
        load_config(None, ["TRAINN.LR", "0.1"])
    with pytest.raises(ConfigError, match=r"did you mean TEST\.FLIP_TEST\?"):
        load_config(None, ["TEST.FLIP", "True"])


def test_options_override_file():
    cfg = load_config(str(W48_CS), ["TEST.SCALE_LIST", "0.5,0.75,1.0", "TEST.FLIP_TEST", "True"])
    assert cfg.TEST.SCALE_LIST == [0.5, 0.75, 1.0]
    assert isinstance(cfg.TEST.SCALE_LIST, list)
    assert cfg.TEST.FLIP_TEST is True
    cfg = load_config(None, ["TEST.FLIP_TEST", "false", "TRAIN.IMAGE_SIZE", "[512, 256]"])
    assert cfg.TEST.FLIP_TEST is False
    assert cfg.TRAIN.IMAGE_SIZE == [512, 256]


def test_scalar_for_list_key():
    assert load_config(None, ["TEST.SCALE_LIST", "1.0"]).TEST.SCALE_LIST == [1.0]


def test_scalar_for_list_key_in_file(tmp_path):
    path = _write(tmp_path, "TEST:\n  SCALE_LIST: 0.75\n")
    assert load_config(str(path)).TEST.SCALE_LIST == [0.75]


def test_int_for_float_key(tmp_path):
    cfg = load_config(None, ["TRAIN.LR", "1"])
    assert cfg.TRAIN.LR == 1.0 and isinstance(cfg.TRAIN.LR, float)
    path = _write(tmp_path, "TRAIN:\n  WD: 0\n")
    assert isinstance(load_config(str(path)).TRAIN.WD, float)


def test_result_is_frozen():
    cfg = load_config(str(W48_CS))
    assert isinstance(cfg, CfgNode) and cfg.is_frozen()
    with pytest.raises(AttributeError):
        cfg.TRAIN.LR = 0.5
    with pytest.raises(AttributeError):
        cfg.MODEL.EXTRA.STAGE2.NUM_MODULES = 2


def test_defaults_without_file():
    cfg = load_config()
    assert cfg.MODEL.NAME == "seg_hrnet" and cfg.TEST.SCALE_LIST == [1]
    assert load_config(None, None).TRAIN.END_EPOCH == 484


def test_model_extra_accepts_new_keys(tmp_path):
    path = _write(tmp_path, "MODEL:\n  EXTRA:\n    STAGE1:\n      NUM_RANCHES: 1\n    FOO: 3\n")
    cfg = load_config(str(path), ["MODEL.EXTRA.BAR", "[1, 2]"])
    assert cfg.MODEL.EXTRA.STAGE1.NUM_RANCHES == 1
    assert cfg.MODEL.EXTRA.FOO == 3 and cfg.MODEL.EXTRA.BAR == [1, 2]


def test_odd_options():
    with pytest.raises(ConfigError, match="KEY VALUE pairs"):
        load_config(None, ["TRAIN.LR"])


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_config(str(missing))


def test_wrong_type():
    with pytest.raises(ConfigError, match=r"TRAIN\.END_EPOCH.*int.*'abc'"):
        load_config(None, ["TRAIN.END_EPOCH", "abc"])
    with pytest.raises(ConfigError, match=r"TRAIN\.FLIP"):
        load_config(None, ["TRAIN.FLIP", "maybe"])


@pytest.mark.parametrize(
    "key, value",
    [("TEST.SCALE_LIST", "0.5,abc"), ("TEST.SCALE_LIST", "abc"), ("DATASET.CLASS_WEIGHTS", "1,x")],
)
def test_lists_of_numbers_take_only_numbers(key, value):
    with pytest.raises(ConfigError, match=rf"{re.escape(key)} expects numbers .*{value}"):
        load_config(None, [key, value])
    cfg = load_config(None, [key, "0.5,1"])
    assert list(cfg[key.split(".")[0]][key.split(".")[1]]) == [0.5, 1]


def test_epoch_snapshots_keep_n_or_all():
    assert load_config(None, ["TRAIN.EPOCH_SNAPSHOTS", "-1"]).TRAIN.EPOCH_SNAPSHOTS == -1
    with pytest.raises(ConfigError, match=r"TRAIN\.EPOCH_SNAPSHOTS is -2; expected N >= 0"):
        load_config(None, ["TRAIN.EPOCH_SNAPSHOTS", "-2"])


def test_wrong_type_in_file(tmp_path):
    path = _write(tmp_path, "TRAIN:\n  END_EPOCH: abc\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(path) in str(err.value) and "TRAIN.END_EPOCH" in str(err.value)


def test_section_given_a_value(tmp_path):
    path = _write(tmp_path, "TRAIN: 3\n")
    with pytest.raises(ConfigError, match=r"TRAIN is a section"):
        load_config(str(path))
    with pytest.raises(ConfigError, match=r"TRAIN is a section"):
        load_config(None, ["TRAIN", "3"])


def test_invalid_yaml(tmp_path):
    path = _write(tmp_path, "TRAIN: [1, 2\nTEST: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    assert "\n" not in message  # one line
    assert message.startswith(f"{path}: not valid YAML: line 2, column 5: expected ',' or ']'")


# List files referenced by YAMLs whose ROOT is this repository's data/ folder.
# Not shipped: LIP's trainList.txt (not retrievable) and SSJ's val_1209_debug.lst (never published).
# Lists the original projects never published or generated from the user's own data.
UNSHIPPED = {"list/lip/trainList.txt", "list/urbanisation/train.lst", "list/urbanisation/val.lst"}


def test_shipped_list_files():
    checked = 0
    for path in YAMLS:
        cfg = load_config(str(path))
        if cfg.DATASET.ROOT.rstrip("/") != "data":
            continue
        for key in ("TRAIN_SET", "EXTRA_TRAIN_SET", "TEST_SET"):
            name = cfg.DATASET[key]
            if name.startswith("list/") and name not in UNSHIPPED:
                assert (ROOT / "data" / name).is_file(), f"{_rel(path)}: {key} {name}"
                checked += 1
    assert checked >= 10
    for name in ("train", "val", "trainval", "test"):
        lines = (ROOT / f"data/list/cityscapes/{name}.lst").read_text().splitlines()
        assert lines and all(line.startswith(("leftImg8bit/", "gtFine/")) for line in lines)


def test_keys_kept_for_old_yamls_are_reported_only_when_set():
    assert unused_settings(load_config(None)) == []
    cfg = load_config(None, ["TRAIN.LR_STEP", "[30, 60]", "TEST.MULTI_SCALE", "True"])
    assert unused_settings(cfg) == [
        "TRAIN.LR_STEP [30, 60] is ignored: the learning rate follows the poly schedule",
        "TEST.MULTI_SCALE True is ignored: the test scales are TEST.SCALE_LIST",
    ]


@pytest.mark.parametrize(
    "opts, message",
    [
        (["TRAIN.END_EPOCH", "0", "TRAIN.EXTRA_EPOCH", "2"], None),  # the extra phase only
        (["TRAIN.EXTRA_EPOCH", "2", "TRAIN.EXTRA_LR", "0"], r"TRAIN\.EXTRA_LR is 0\.0; expected"),
        (["TEST.IMAGE_SIZE", "[0, 10]"], r"TEST\.IMAGE_SIZE is \[0, 10\]; expected two positive"),
        (["TEST.IMAGE_SIZE", "[1.5, 10]"], r"TEST\.IMAGE_SIZE is \[1\.5, 10\]"),
        (["PRINT_FREQ", "0"], r"PRINT_FREQ is 0; expected an integer >= 1"),
        (["TRAIN.EVAL_EVERY", "0"], r"TRAIN\.EVAL_EVERY is 0; expected an integer >= 1"),
        (["TEST.BATCH_SIZE_PER_GPU", "0"], r"TEST\.BATCH_SIZE_PER_GPU is 0; expected"),
        (["TRAIN.LR", "0.1", "--seed", "3"], r"--seed comes after the KEY VALUE overrides"),
    ],
)
def test_settings_outside_what_a_key_allows(opts, message):
    if message is None:
        load_config(None, opts)
    else:
        with pytest.raises(ConfigError, match=message):
            load_config(None, opts)
