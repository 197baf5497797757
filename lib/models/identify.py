"""Which experiment YAMLs fit a weights file, and what the file holds.

The model family, its branch widths and its number of classes are read off the tensor names and
shapes; the file's keys and shapes are then compared with the model of every experiment YAML, as
a strict `load_weights` would compare them. The models are built on the meta device (shapes
without memory), each distinct model once per process, so scanning a few dozen YAMLs takes
seconds even for W48.
"""

import re
import shlex
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import torch
from torch import nn

from config import load_config
from utils.cli import shown_path
from utils.state_keys import compare_shapes, format_differences, shapes_of

from .hrnet import BACKBONE_PREFIXES
from .registry import get_builder
from .weights import bare_state_dict, describe_layout, read_checkpoint

# The module holding the classifier of each family; its last 4-D weight has one row per class.
CLASSIFIERS = {
    "HRNetV2": "last_layer.",
    "HRNetV2 + HANet": "last_layer.",
    "HRNetV2 + OCR": "cls_head.",
    "Lite-HRNet": "head_layer.",
    "Lite-HRNet + HANet": "head_layer.",
    "HRNet ImageNet classification": "classifier.",
}
# HANet in an HRNet was used by the AI702 fork as its HRNet YAML plus this override (README
# "Lite-HRNet and HRNet + HANet"): tried on every seg_hrnet YAML when a file holds HANet layers.
VARIANTS = {"HRNetV2 + HANet": {"seg_hrnet": ("MODEL.NAME", "seg_hrnet_hanet")}}
# Settings that change a model's outputs but not its keys: shown for every fitting YAML (the
# second only for models with HANet layers).
OUTPUT_SETTINGS = ("MODEL.ALIGN_CORNERS", "MODEL.HANET.POS_ENCODING")
_BRANCH = re.compile(r"^stage\d+\.\d+\.branches\.\d+\.0\.conv1\.weight$")
_LITE = re.compile(r"^head_layer\.projects\.\d+\.depthwise_conv\.conv\.weight$")


@dataclass(frozen=True)
class Summary:
    """What a state dict holds: family, branch widths (high resolution first), classes."""

    family: str
    branches: tuple
    num_classes: int | None
    num_tensors: int
    num_params: int

    @property
    def width(self):
        return self.branches[0] if self.branches else None


def family_of(state):
    """The model family of a bare state dict, from its module names ('unknown' if none fits)."""
    tops = {key.split(".", 1)[0] for key in state}
    hanet = any(top.startswith("hanet") for top in tops)
    if "classifier" in tops and "incre_modules" in tops:
        return "HRNet ImageNet classification"
    if "head_layer" in tops and "stem" in tops:
        return "Lite-HRNet + HANet" if hanet else "Lite-HRNet"
    if "cls_head" in tops:
        return "HRNetV2 + OCR"
    if "last_layer" in tops:
        return "HRNetV2 + HANet" if hanet else "HRNetV2"
    return "unknown"


def summarize(state):
    """A `Summary` of a bare state dict."""
    family = family_of(state)
    # Branch widths grow with the branch index: sorted widths are the branches in order.
    branches = tuple(
        sorted({int(v.shape[0]) for k, v in state.items() if _BRANCH.match(k) or _LITE.match(k)})
    )
    num_classes = None
    prefix = CLASSIFIERS.get(family)
    if prefix:
        weights = [v for k, v in state.items() if k.startswith(prefix) and v.dim() in (2, 4)]
        num_classes = int(weights[-1].shape[0]) if weights else None
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    params = sum(v.numel() for k, v in state.items() if not k.endswith(buffers))
    return Summary(family, branches, num_classes, len(state), params)


@dataclass(frozen=True)
class Candidate:
    """An experiment YAML (with `opts` applied) and the {key: shape} of its model."""

    cfg_file: Path
    opts: tuple
    model_name: str
    num_classes: int
    settings: dict = field(compare=False)
    shapes: dict = field(compare=False, repr=False)


@dataclass(frozen=True)
class Match:
    """A candidate and the keys in which a file differs from it."""

    candidate: Candidate
    missing: list
    unexpected: list
    mis_shaped: list

    @property
    def distance(self):
        return len(self.missing) + len(self.unexpected) + len(self.mis_shaped)

    @property
    def fits(self):
        return self.distance == 0


def _architecture(cfg):
    """What the shapes of `cfg`'s model depend on: the MODEL section less the settings that
    only change how it is initialised or run, and the class count."""
    model = cfg.MODEL.clone()
    model.defrost()
    model.PRETRAINED, model.FINETUNE_REINIT = "", []
    model.ALIGN_CORNERS = True
    return model.dump() + f"classes: {cfg.DATASET.NUM_CLASSES}"


_SHAPES = {}  # architecture -> {key: shape}: the YAMLs of one model share one build


@contextmanager
def _shapes_only():
    """Build on the meta device with the `torch.nn.init` functions as no-ops: meta tensors hold
    no values, and initialising them costs most of a meta build (transformers' `no_init_weights`
    does the same)."""
    names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {name: getattr(nn.init, name) for name in names}
    try:
        for name in names:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        with torch.device("meta"):
            yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def _model_shapes(cfg):
    key = _architecture(cfg)
    if key not in _SHAPES:
        with _shapes_only():
            _SHAPES[key] = shapes_of(get_builder(cfg.MODEL.NAME)(cfg).state_dict())
    return _SHAPES[key]


@cache
def _candidate(cfg_file, mtime, opts):
    cfg = load_config(cfg_file, ["MODEL.PRETRAINED", "", *opts])
    shapes = _model_shapes(cfg)
    settings = {"MODEL.ALIGN_CORNERS": cfg.MODEL.ALIGN_CORNERS}
    if any(key.startswith("hanet") for key in shapes):
        settings["MODEL.HANET.POS_ENCODING"] = cfg.MODEL.HANET.POS_ENCODING
    return Candidate(cfg_file, opts, cfg.MODEL.NAME, cfg.DATASET.NUM_CLASSES, settings, shapes)


def experiment_candidates(folder, family=None):
    """(candidates, failures) for every `*.yaml` under `folder` (searched recursively), plus the
    `VARIANTS` of `family`. A YAML whose model cannot be built is a failure (file, message)."""
    files = sorted(Path(folder).rglob("*.yaml"))
    candidates, failures = [], []
    variants = VARIANTS.get(family, {})
    for cfg_file in files:
        try:
            base = _candidate(cfg_file, cfg_file.stat().st_mtime, ())
        except Exception as error:  # a YAML of another project or a broken one: report, go on
            failures.append((cfg_file, f"{type(error).__name__}: {error}"))
            continue
        candidates.append(base)
        if base.model_name in variants:
            candidates.append(
                _candidate(cfg_file, cfg_file.stat().st_mtime, variants[base.model_name])
            )
    return candidates, failures


def _preference(match):
    """Among equally close YAMLs: plain files before overrides, the original recipes before
    the `_paddle` ones (their paths point at their authors' disks), then the shortest name."""
    name = match.candidate.cfg_file.name
    return (match.distance, bool(match.candidate.opts), "_paddle" in name, len(name), name)


def match_experiments(state, candidates):
    """Every candidate with the differences of `state` (bare keys) from it, closest first."""
    shapes = shapes_of(state)
    matches = [Match(c, *compare_shapes(shapes, c.shapes)) for c in candidates]
    return sorted(matches, key=_preference)


def backbone_fits(state, candidate):
    """Whether `state` (an ImageNet file) holds every backbone tensor of `candidate`'s model
    with its shape, as `MODEL.PRETRAINED` of that YAML needs."""
    backbone = [k for k in candidate.shapes if k.startswith(BACKBONE_PREFIXES)]
    return bool(backbone) and all(
        k in state and tuple(state[k].shape) == candidate.shapes[k] for k in backbone
    )


def _settings(candidate):
    return ", ".join(f"{name} {value}" for name, value in candidate.settings.items())


def _model_line(summary):
    parts = [summary.family]
    if summary.branches:
        widths = ", ".join(str(w) for w in summary.branches)
        parts.append(f"width {summary.width} (branches {widths})")
    if summary.num_classes is not None:
        parts.append(f"{summary.num_classes} classes")
    return ", ".join(parts)


def _test_command(candidate, path):
    command = ["python", "tools/test.py", "--cfg", shown_path(candidate.cfg_file), *candidate.opts]
    return "  " + shlex.join([*command, "TEST.MODEL_FILE", str(path)])


def _fit_lines(path, fits):
    lines = [f"fits key for key {len(fits)} experiment YAML(s):"]
    width = max(len(shown_path(m.candidate.cfg_file)) for m in fits)
    for match in fits:
        candidate = match.candidate
        opts = " " + " ".join(candidate.opts) if candidate.opts else ""
        name = shown_path(candidate.cfg_file).ljust(width)
        lines.append(f"  {name}{opts}   {_settings(candidate)}")
    for setting in OUTPUT_SETTINGS:
        values = {m.candidate.settings.get(setting) for m in fits} - {None}
        if len(values) == 1:
            lines.append(f"{setting}: {values.pop()} (every fitting YAML)")
        elif values:
            lines.append(
                f"{setting}: the fitting YAMLs differ ({', '.join(map(str, sorted(values)))}); "
                "it changes the outputs, not the keys: use the YAML of the recipe that trained "
                "the file"
            )
    lines += ["test it:", _test_command(fits[0].candidate, path)]
    return lines


def _near_lines(path, state, summary, matches, top):
    lines = ["fits no experiment YAML; the closest:"]
    for match in matches[:top]:
        candidate = match.candidate
        opts = " " + " ".join(candidate.opts) if candidate.opts else ""
        lines.append(f"  {shown_path(candidate.cfg_file)}{opts}: {match.distance} key(s) differ")
        differences = format_differences(match.missing, match.unexpected, match.mis_shaped)
        lines += ["    " + line.strip() for line in differences.split("\n")]
        if summary.num_classes not in (None, candidate.num_classes):
            lines.append(
                f"    classes: the file has {summary.num_classes}, the YAML "
                f"{candidate.num_classes} (DATASET.NUM_CLASSES)"
            )
    closest = matches[0].candidate
    if summary.num_classes not in (None, closest.num_classes):
        opts = (*closest.opts, "DATASET.NUM_CLASSES", str(summary.num_classes))
        recount = _candidate(closest.cfg_file, closest.cfg_file.stat().st_mtime, opts)
        if match_experiments(state, [recount])[0].fits:
            lines += [
                f"with DATASET.NUM_CLASSES {summary.num_classes} the closest fits; test it on a "
                f"dataset of {summary.num_classes} classes (DATASET.* of your data):",
                _test_command(recount, path),
            ]
    return lines


def inspect_weights(path, folder, top=3):
    """A report on the weights file `path`: layout, family, width, classes, the YAMLs under
    `folder` that fit it key for key with their output settings and a tools/test.py command, or
    the `top` closest YAMLs and what differs."""
    data = read_checkpoint(path)
    state = bare_state_dict(data, path)
    summary = summarize(state)
    lines = [
        f"file:    {path}",
        f"layout:  {describe_layout(data, path)}",
        f"model:   {_model_line(summary)}",
        f"tensors: {summary.num_tensors} ({summary.num_params / 1e6:.2f} M parameters)",
    ]
    candidates, failures = experiment_candidates(folder, summary.family)
    if not candidates:
        lines.append(f"no experiment YAML under {folder} builds a model")
    elif summary.family == "HRNet ImageNet classification":
        fitting = [c for c in candidates if backbone_fits(state, c)]
        lines.append(
            f"an ImageNet backbone file: MODEL.PRETRAINED of {len(fitting)} experiment YAML(s)"
            + (":" if fitting else "")
        )
        lines += [f"  {shown_path(c.cfg_file)}" for c in fitting]
    else:
        matches = match_experiments(state, candidates)
        fits = [m for m in matches if m.fits]
        lines += _fit_lines(path, fits) if fits else _near_lines(path, state, summary, matches, top)
    for cfg_file, error in failures:
        lines.append(f"skipped {shown_path(cfg_file)}: {error}")
    return "\n".join(lines)
