"""models.identify: every released state dict (tests/data manifests) in every released layout is
matched to the experiment YAML it came from; near misses name what differs."""

from functools import cache
from pathlib import Path

import pytest
import torch

from config import load_config
from helpers.model_checks import manifest
from helpers.model_specs import TINY_MODEL
from helpers.paths import EXPERIMENTS, TEST_DATA
from helpers.released_layouts import RELEASED_LAYOUTS
from models import identify
from models.weights import bare_state_dict, describe_layout, read_checkpoint

RELEASES = sorted(p.stem for p in TEST_DATA.glob("*.json") if p.stem.startswith(("seg_", "fork_")))
IMAGENET = sorted(p.stem for p in TEST_DATA.glob("cls_*.json"))
WRAPPERS = ["fullmodel_with_loss", "checkpoint_pth_tar", "dataparallel", "dataparallel_fullmodel"]


def random_tensor(shape, dtype, generator):
    """A tensor of `shape` whose storage is one random number: released W48 files hold 65M
    values, the inspector reads only names, shapes and types, and the file stays a few kB."""
    if dtype == "int64":
        return torch.zeros(shape, dtype=torch.int64)
    return torch.rand((), generator=generator).expand(shape)


@cache
def released_state(name):
    """A random state dict with the names and shapes of the manifest `name`."""
    generator = torch.Generator().manual_seed(0)
    return {key: random_tensor(s, dtype, generator) for key, s, dtype in manifest(name)["keys"]}


def source_yaml(name):
    """The experiments/ file the manifest was made from, and its command-line overrides."""
    data = manifest(name)
    relative = data["source"].split(":", 1)[1]
    return EXPERIMENTS / relative.removeprefix("experiments/"), tuple(data.get("opts", ()))


def expected_family(name):
    if "lite" in name:
        return "Lite-HRNet + HANet"  # the fork's Lite-HRNet has a HANet after every stage
    if "hanet" in name:
        return "HRNetV2 + HANet"
    return "HRNetV2 + OCR" if "ocr" in name else "HRNetV2"


@pytest.fixture(scope="module")
def candidates():
    found, failures = identify.experiment_candidates(EXPERIMENTS, "HRNetV2 + HANet")
    assert failures == []
    return found


@pytest.mark.parametrize("name", RELEASES)
def test_every_release_in_every_layout_fits_its_source_yaml(tmp_path, candidates, name):
    cfg_file, opts = source_yaml(name)
    cfg = load_config(cfg_file, ["MODEL.PRETRAINED", "", *opts])
    # One layout per release goes through a file (each layout with 3-4 models); the others are
    # unwrapped in memory, which is all that differs between layouts after torch.load.
    on_disk = WRAPPERS[RELEASES.index(name) % len(WRAPPERS)]
    for layout in WRAPPERS:
        saved = RELEASED_LAYOUTS[layout](released_state(name))
        if layout == on_disk:
            torch.save(saved, tmp_path / "weights.pth")
            saved = read_checkpoint(tmp_path / "weights.pth")
        state = bare_state_dict(saved)
        fits = [m.candidate for m in identify.match_experiments(state, candidates) if m.fits]
        assert (cfg_file, opts) in [(c.cfg_file, c.opts) for c in fits], layout
        # Every fitting YAML has the source's class count.
        assert {c.num_classes for c in fits} == {cfg.DATASET.NUM_CLASSES}
    summary = identify.summarize(state)
    assert summary.family == expected_family(name)
    assert summary.num_classes == cfg.DATASET.NUM_CLASSES
    assert summary.num_params == manifest(name)["num_params"]
    extra = cfg.MODEL.EXTRA
    widths = extra.STAGE4.NUM_CHANNELS if "STAGE4" in extra else extra.stages_spec.num_channels[-1]
    assert summary.branches == tuple(widths)


def test_the_master_branch_files_without_num_batches_tracked_fit(candidates):
    name = "seg_hrnet_w48_lip"
    saved = RELEASED_LAYOUTS["torch04_no_num_batches_tracked"](released_state(name))
    state = bare_state_dict(saved)
    fits = [m.candidate.cfg_file for m in identify.match_experiments(state, candidates) if m.fits]
    assert source_yaml(name)[0] in fits
    assert "PyTorch 0.4-era" in describe_layout(saved)


def test_a_class_count_near_miss_names_the_classifier_and_the_counts(tmp_path):
    state = dict(released_state("seg_hrnet_w48_cityscapes"))
    state["last_layer.3.weight"] = torch.zeros(7, 720, 1, 1)
    state["last_layer.3.bias"] = torch.zeros(7)
    path = tmp_path / "landcover_w48.pth"
    torch.save({f"model.{k}": v for k, v in state.items()}, path)
    report = identify.inspect_weights(path, EXPERIMENTS, top=2)
    assert "fits no experiment YAML" in report and "fits key for key" not in report
    assert "HRNetV2, width 48 (branches 48, 96, 192, 384), 7 classes" in report
    closest = report.split("the closest:\n", 1)[1]
    assert closest.count(": 2 key(s) differ") == 2  # only the classifier, in both
    assert "2 mis-shaped key(s): last_layer.3.bias (file [7], model [" in closest
    assert "classes: the file has 7, the YAML" in closest
    assert "with DATASET.NUM_CLASSES 7 the closest fits" in closest
    assert "DATASET.NUM_CLASSES 7 TEST.MODEL_FILE" in closest.splitlines()[-1]


def test_missing_and_unexpected_keys_are_named(candidates):
    state = {k: v for k, v in released_state("seg_hrnet_ocr_w48_lip").items()}
    state = {k: v for k, v in state.items() if not k.startswith("aux_head.")}
    state["extra_head.weight"] = torch.zeros(3)
    best = identify.match_experiments(state, candidates)[0]
    assert best.candidate.cfg_file == source_yaml("seg_hrnet_ocr_w48_lip")[0]
    assert best.unexpected == ["extra_head.weight"]
    assert best.missing and all(k.startswith("aux_head.") for k in best.missing)
    assert not best.mis_shaped


@pytest.mark.parametrize("name", IMAGENET)
def test_imagenet_files_name_the_yamls_they_initialise(tmp_path, name):
    path = tmp_path / "imagenet.pth"
    torch.save(released_state(name), path)
    report = identify.inspect_weights(path, EXPERIMENTS)
    assert "HRNet ImageNet classification" in report and "1000 classes" in report
    listed = [Path(line.strip()).name for line in report.split(":\n", 1)[1].splitlines()]
    # The W18 files of HRNet-Image-Classification are the backbones the YAMLs name.
    pretrained = {
        p.name
        for p in EXPERIMENTS.rglob("*.yaml")
        if Path(load_config(p).MODEL.PRETRAINED).name == manifest(name)["released_file"]
    }
    assert pretrained and pretrained <= set(listed)


def test_yamls_that_do_not_build_are_reported_not_fatal(tmp_path):
    (tmp_path / "broken.yaml").write_text("MODEL:\n  NAME: no_such_model\n")
    (tmp_path / "tiny.yaml").write_text("DATASET: {NUM_CLASSES: 3}\n" + TINY_MODEL)
    found, failures = identify.experiment_candidates(tmp_path)
    assert [c.cfg_file.name for c in found] == ["tiny.yaml"]
    assert failures[0][0].name == "broken.yaml" and "no_such_model" in failures[0][1]
