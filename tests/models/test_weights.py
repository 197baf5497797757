"""Released checkpoint layouts load strictly and reproduce outputs; wrong files fail clearly."""

import pytest
import torch

import models
from helpers.model_checks import manifest
from helpers.model_specs import W18_SMALL_V1, experiment, tiny_config
from helpers.released_layouts import RELEASED_LAYOUTS
from utils.errors import CheckpointError


def randomised(model, seed=0):
    """Random weights and BN statistics, so a silent non-load would change the outputs."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if value.dtype.is_floating_point:
            noise = torch.rand(value.shape, generator=generator)
            state[key] = noise + 0.5 if "running_var" in key else noise - 0.5
        else:
            state[key] = torch.full_like(value, 7)
    model.load_state_dict(state)
    return model.eval()


def outputs(model, x):
    with torch.no_grad():
        out = model(x)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("layout", sorted(RELEASED_LAYOUTS))
@pytest.mark.parametrize("name", ["seg_hrnet", "seg_hrnet_ocr"])
def test_released_layouts_load_strictly_and_reproduce_outputs(tmp_path, layout, name):
    source = randomised(models.build_model(tiny_config(name, 19)))
    path = tmp_path / "weights.pth"
    torch.save(RELEASED_LAYOUTS[layout](source.state_dict()), path)
    target = models.build_model(tiny_config(name, 19)).eval()
    models.load_weights(target, path)
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(outputs(source, x), outputs(target, x), strict=True):
        assert torch.equal(a, b)


def test_w18_small_checkpoint_round_trip(tmp_path):
    source = randomised(models.build_model(experiment(W18_SMALL_V1)))
    path = tmp_path / "final_state.pth"
    torch.save({f"model.{k}": v for k, v in source.state_dict().items()}, path)
    target = models.build_model(experiment(W18_SMALL_V1)).eval()
    models.load_weights(target, path)
    x = torch.randn(1, 3, 64, 128)
    assert torch.equal(outputs(source, x)[0], outputs(target, x)[0])


def test_ocr_weights_into_seg_hrnet_fail_naming_keys(tmp_path):
    path = tmp_path / "ocr.pth"
    torch.save(models.build_model(tiny_config("seg_hrnet_ocr", 19)).state_dict(), path)
    with pytest.raises(models.CheckpointMismatchError) as err:
        models.load_weights(models.build_model(tiny_config("seg_hrnet", 19)), path)
    message = str(err.value)
    assert str(path) in message
    assert "missing key(s): last_layer.0.bias" in message
    assert "unexpected key(s): aux_head.0.bias" in message


def test_wrong_class_count_fails_naming_mis_shaped_keys(tmp_path):
    path = tmp_path / "cls19.pth"
    torch.save(models.build_model(tiny_config("seg_hrnet", 19)).state_dict(), path)
    with pytest.raises(models.CheckpointMismatchError, match=r"last_layer\.3\.weight \(file \[19"):
        models.load_weights(models.build_model(tiny_config("seg_hrnet", 20)), path)


def test_reinit_keeps_named_layers_and_loads_the_rest(tmp_path):
    path = tmp_path / "cls19.pth"
    source = randomised(models.build_model(tiny_config("seg_hrnet", 19)))
    torch.save(source.state_dict(), path)
    target = models.build_model(tiny_config("seg_hrnet", 7))
    before = target.last_layer[3].weight.clone()
    kept = models.load_weights(target, path, reinit=["last_layer.3"])
    assert kept == ["last_layer.3.weight", "last_layer.3.bias"]
    assert torch.equal(target.last_layer[3].weight, before)
    assert torch.equal(target.last_layer[0].weight, source.last_layer[0].weight)


def test_missing_and_unreadable_files_fail_clearly(tmp_path):
    model = models.build_model(tiny_config())
    with pytest.raises(CheckpointError, match="nowhere.pth"):
        models.load_weights(model, tmp_path / "nowhere.pth")
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth cannot be read"):
        models.load_weights(model, junk)


def imagenet_file(tmp_path, manifest_name, seed=1):
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in manifest(manifest_name)["keys"]:
        if dtype == "int64":
            state[key] = torch.zeros(shape, dtype=torch.int64)
        else:
            state[key] = torch.rand(shape, generator=generator)
    path = tmp_path / f"{manifest_name}.pth"
    torch.save(state, path)
    return path, state


def test_imagenet_init_fills_every_backbone_tensor(tmp_path, caplog):
    path, state = imagenet_file(tmp_path, "cls_hrnet_w18_small_v1_imagenet")
    cfg = experiment(W18_SMALL_V1, "MODEL.PRETRAINED", str(path))
    with caplog.at_level("INFO"):
        model = models.build_model(cfg)
    loaded = model.state_dict()
    assert torch.equal(
        loaded["stage4.0.branches.3.1.conv2.weight"], state["stage4.0.branches.3.1.conv2.weight"]
    )
    assert torch.equal(loaded["conv1.weight"], state["conv1.weight"])
    assert "classifier" in caplog.text and "incre_modules" in caplog.text
    init = manifest("imagenet_init")["seg_hrnet_w18_small_v1_cityscapes"]
    taken, left = models.load_imagenet(models.build_model(experiment(W18_SMALL_V1)), path)
    assert len(taken) == init["taken"]
    assert len(left) == sum(init["imagenet_only_by_prefix"].values())


def test_imagenet_init_of_the_wrong_width_fails(tmp_path):
    path, _ = imagenet_file(tmp_path, "cls_hrnet_w18_small_v2_imagenet")
    with pytest.raises(models.CheckpointMismatchError, match="backbone tensor"):
        models.build_model(experiment(W18_SMALL_V1, "MODEL.PRETRAINED", str(path)))


def test_a_segmentation_checkpoint_of_another_class_count_is_not_an_imagenet_file(tmp_path):
    path = tmp_path / "seg_17_classes.pth"
    seventeen = models.build_model(experiment(W18_SMALL_V1, "DATASET.NUM_CLASSES", "17"))
    torch.save({f"model.{k}": v for k, v in seventeen.state_dict().items()}, path)
    cfg = experiment(W18_SMALL_V1, "DATASET.NUM_CLASSES", "3", "MODEL.PRETRAINED", str(path))
    with pytest.raises(
        models.CheckpointMismatchError,
        match=r"2 mis-shaped key\(s\): last_layer\.3\.bias .*MODEL\.FINETUNE_REINIT",
    ):
        models.build_model(cfg)
    reinit = experiment(W18_SMALL_V1, "DATASET.NUM_CLASSES", "3", "MODEL.PRETRAINED", str(path),
                        "MODEL.FINETUNE_REINIT", "['last_layer.3']")  # fmt: skip
    model = models.build_model(reinit)
    assert torch.equal(model.state_dict()["conv1.weight"], seventeen.state_dict()["conv1.weight"])


def test_missing_imagenet_file_names_the_path_and_folder(tmp_path):
    cfg = experiment(W18_SMALL_V1, "MODEL.PRETRAINED", str(tmp_path / "hrnet_w18.pth"))
    with pytest.raises(CheckpointError, match=r"hrnet_w18\.pth.*pretrained_models/"):
        models.build_model(cfg)
