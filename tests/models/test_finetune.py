"""MODEL.FINETUNE_REINIT: a segmentation checkpoint of another class count seeds a new model."""

import pytest
import torch

import models
from config import load_config
from helpers.model_checks import manifest
from helpers.model_specs import tiny_config
from helpers.paths import EXPERIMENTS
from utils.errors import CheckpointError, ConfigError

REINIT = ["cls_head", "aux_head.3"]
CLASS_COUNT_KEYS = ["cls_head.weight", "cls_head.bias", "aux_head.3.weight", "aux_head.3.bias"]
URBANISATION = (
    EXPERIMENTS
    / "urbanisation"
    / "seg_hrnet_ocr_w48_trainval_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
)


def ocr_config(num_classes, *opts):
    return tiny_config("seg_hrnet_ocr", num_classes, *opts)


@pytest.fixture
def cityscapes_checkpoint(tmp_path):
    """A 19-class OCR checkpoint in the released FullModel layout (`model.` prefix)."""
    torch.manual_seed(1)
    model = models.build_model(ocr_config(19), pretrained=False)
    for tensor in model.state_dict().values():
        if tensor.is_floating_point():
            tensor.uniform_(-1, 1)
    path = tmp_path / "hrnet_ocr_cs.pth"
    torch.save({f"model.{k}": v for k, v in model.state_dict().items()}, path)
    return path


def finetune_config(path, reinit=REINIT):
    return ocr_config(7, "MODEL.PRETRAINED", str(path), "MODEL.FINETUNE_REINIT", str(reinit))


def test_class_count_tensors_keep_their_init_and_the_rest_is_loaded(cityscapes_checkpoint, caplog):
    source = {k[len("model.") :]: v for k, v in torch.load(cityscapes_checkpoint).items()}
    torch.manual_seed(2)
    fresh = models.build_model(ocr_config(7), pretrained=False).state_dict()
    torch.manual_seed(2)
    with caplog.at_level("INFO", logger="models"):
        model = models.build_model(finetune_config(cityscapes_checkpoint))
    state = model.state_dict()
    for key, value in state.items():
        expected = fresh[key] if key in CLASS_COUNT_KEYS else source[key]
        assert torch.equal(value, expected), key
    assert state["cls_head.weight"].shape[0] == 7
    message = next(r.getMessage() for r in caplog.records if "fine-tuning" in r.getMessage())
    assert message.endswith(
        f"re-initialised 4 (MODEL.FINETUNE_REINIT {REINIT}): " + ", ".join(CLASS_COUNT_KEYS)
    )


def test_without_the_option_the_load_fails_naming_the_mis_shaped_keys(cityscapes_checkpoint):
    model = models.build_model(ocr_config(7), pretrained=False)
    with pytest.raises(models.CheckpointMismatchError, match="4 mis-shaped") as error:
        models.load_weights(model, cityscapes_checkpoint)
    for key in CLASS_COUNT_KEYS:
        assert key in str(error.value)


def test_everything_else_stays_strict(cityscapes_checkpoint, tmp_path):
    state = torch.load(cityscapes_checkpoint)
    del state["model.conv3x3_ocr.0.weight"]
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    with pytest.raises(models.CheckpointMismatchError, match="missing.*conv3x3_ocr.0.weight"):
        models.build_model(finetune_config(broken))


def test_only_the_heads_named_are_reinitialised(cityscapes_checkpoint):
    """Re-initialising cls_head alone leaves aux_head.3 mis-shaped: still an error."""
    with pytest.raises(models.CheckpointMismatchError, match=r"aux_head.3.weight \(file \[19"):
        models.build_model(finetune_config(cityscapes_checkpoint, ["cls_head"]))


def test_a_prefix_matching_nothing_is_named(cityscapes_checkpoint):
    with pytest.raises(ConfigError, match="prefix 'cls_haed' matches no key.*cls_head"):
        models.build_model(finetune_config(cityscapes_checkpoint, ["cls_haed"]))
    # A prefix ends at a dot: 'cls' does not take in 'cls_head'.
    with pytest.raises(ConfigError, match="prefix 'cls' matches no key"):
        models.build_model(finetune_config(cityscapes_checkpoint, ["cls"]))


def test_missing_checkpoint_or_no_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="segmentation checkpoint to fine-tune from"):
        models.build_model(finetune_config(tmp_path / "absent.pth"))
    with pytest.raises(ConfigError, match="needs MODEL.PRETRAINED"):
        models.build_model(finetune_config(""))
    # Building without initialisation (test.py, export) ignores the option.
    models.build_model(finetune_config(""), pretrained=False)


def test_urbanisation_recipe_reinitialises_exactly_the_class_count_tensors():
    cfg = load_config(URBANISATION)
    assert list(cfg.MODEL.FINETUNE_REINIT) == REINIT
    assert cfg.MODEL.PRETRAINED == "pretrained_models/hrnet_ocr_cs_trainval_8227_torch11.pth"
    # In the released Cityscapes W48 OCR layout, the tensors sized by the 19 classes:
    keys = manifest("seg_hrnet_ocr_w48_cityscapes")["keys"]
    sized_by_classes = [key for key, shape, _ in keys if shape and shape[0] == 19]
    assert sorted(sized_by_classes) == sorted(CLASS_COUNT_KEYS)
