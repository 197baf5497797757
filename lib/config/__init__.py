"""Configuration: `cfg = load_config(cfg_file, opts)` returns a frozen yacs CfgNode.

Every key and its default lives in `default.py`. A key that is not there fails with its name,
the file (or the command line) it came from and the nearest known key; a value outside what a
key allows (a size that is not positive, an unknown choice) fails naming the key and the
allowed values. `MODEL.EXTRA` accepts any key: the model that reads it checks it.
`unused_settings(cfg)` says which keys kept for old YAMLs are set (they do nothing); keys that
old YAMLs set and that no longer exist (`RETIRED`, e.g. MODEL.NUM_OUTPUTS) are dropped.
"""

import difflib
from pathlib import Path

import yaml
from yacs.config import CfgNode

from utils.errors import ConfigError
from utils.text import read_text

from .default import RETIRED, UNUSED, get_defaults

__all__ = [
    "ConfigError",
    "config_name",
    "get_defaults",
    "load_config",
    "run_dirs",
    "unused_settings",
]


def load_config(cfg_file=None, opts=()):
    """Defaults, then `cfg_file` (YAML), then `opts` (a flat list of KEY VALUE strings); frozen."""
    cfg = get_defaults()
    if cfg_file:
        path = Path(cfg_file)
        if not path.is_file():
            raise ConfigError(f"config file {cfg_file} does not exist")
        try:
            data = yaml.safe_load(read_text(path, "config file"))
        except yaml.YAMLError as err:
            raise ConfigError(f"{cfg_file}: not valid YAML: {_yaml_problem(err)}") from err
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{cfg_file}: expected a mapping of config keys at the top level")
        _merge(cfg, data or {}, source=str(cfg_file), root=cfg)
    opts = list(opts or [])
    flags = [o for o in opts if str(o).startswith("--")]
    if flags:
        raise ConfigError(
            f"command line: {flags[0]} comes after the KEY VALUE overrides; put the flags "
            "(--...) first and the overrides last"
        )
    if len(opts) % 2:
        raise ConfigError(f"command-line options must be KEY VALUE pairs, got an odd list: {opts}")
    for key, value in zip(opts[0::2], opts[1::2], strict=True):
        _set_option(cfg, key, value)
    check_settings(cfg)
    cfg.freeze()
    return cfg


def _yaml_problem(error):
    """A YAML parser's error in one line: the problem and its line and column."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    return where + problem + (f" ({context})" if context else "")


def _value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def check_settings(cfg):
    """ConfigError naming the first key whose value is outside what it allows."""
    train = cfg.TRAIN
    for key in ("TRAIN.IMAGE_SIZE", "TEST.IMAGE_SIZE"):
        size = _value(cfg, key)
        if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
            raise ConfigError(
                f"{key} is {list(size)}; expected two positive integers: width height"
            )
    at_least = {
        "TRAIN.BATCH_SIZE_PER_GPU": 1,
        "TEST.BATCH_SIZE_PER_GPU": 1,
        "WORKERS": 0,
        "PRINT_FREQ": 1,
        "TRAIN.END_EPOCH": 0,
        "TRAIN.EXTRA_EPOCH": 0,
        "TRAIN.CHECKPOINT_EVERY": 0,
        "TRAIN.EVAL_EVERY": 1,
        "TRAIN.BASE_SIZE": 1,
        "TEST.BASE_SIZE": 1,
    }
    for key, low in at_least.items():
        if _value(cfg, key) < low:
            raise ConfigError(f"{key} is {_value(cfg, key)}; expected an integer >= {low}")
    if train.EPOCH_SNAPSHOTS < -1:
        raise ConfigError(
            f"TRAIN.EPOCH_SNAPSHOTS is {train.EPOCH_SNAPSHOTS}; expected N >= 0 (keep the last "
            "N epoch snapshots, 0: none) or -1 (keep all)"
        )
    if train.END_EPOCH + train.EXTRA_EPOCH == 0:
        raise ConfigError(
            "TRAIN.END_EPOCH is 0 and there is no extra phase (TRAIN.EXTRA_EPOCH 0): nothing to "
            "train; expected TRAIN.END_EPOCH >= 1"
        )
    rates = [("TRAIN.LR", train.LR)]
    if train.EXTRA_EPOCH:
        rates.append(("TRAIN.EXTRA_LR", train.EXTRA_LR))
    for key, rate in rates:
        if not rate > 0:
            raise ConfigError(f"{key} is {rate}; expected a positive learning rate")


def unused_settings(cfg):
    """One message per key kept only for old YAMLs that `cfg` sets to a non-default value."""
    defaults = get_defaults()
    return [
        f"{key} {_value(cfg, key)!r} is ignored: {why}"
        for key, why in UNUSED.items()
        if _value(cfg, key) != _value(defaults, key)
    ]


def config_name(cfg_file):
    """The name of a config file without folder and extension (names the output folder)."""
    return Path(cfg_file).stem


def run_dirs(cfg, cfg_file):
    """(output folder, TensorBoard folder) of a run: OUTPUT_DIR/<dataset>/<cfg name>, LOG_DIR/..."""
    name = config_name(cfg_file) if cfg_file else "default"
    output = Path(cfg.OUTPUT_DIR or "output") / cfg.DATASET.DATASET / name
    tensorboard = Path(cfg.LOG_DIR or "log") / cfg.DATASET.DATASET / cfg.MODEL.NAME / name
    return output, tensorboard


def _all_keys(node, prefix=""):
    for key, value in node.items():
        full = prefix + key
        if isinstance(value, CfgNode):
            yield full  # sections too, so a misspelled section gets a sensible suggestion
            yield from _all_keys(value, full + ".")
        else:
            yield full


def _unknown_key(full_key, source, root):
    message = f"{source}: unknown config key {full_key}"
    known = list(_all_keys(root))
    close = difflib.get_close_matches(full_key, known, n=1, cutoff=0.6)
    if not close:
        leaf = full_key.rsplit(".", 1)[-1]
        by_leaf = {k.rsplit(".", 1)[-1]: k for k in known}
        close = [by_leaf[m] for m in difflib.get_close_matches(leaf, list(by_leaf), n=1)]
    if close:
        message += f"; did you mean {close[0]}?"
    return ConfigError(message)


def _merge(node, data, source, root, prefix=""):
    for key, value in data.items():
        full = prefix + str(key)
        if full in RETIRED:
            continue
        if key not in node:
            if not node.is_new_allowed():
                raise _unknown_key(full, source, root)
            node[key] = _decode(value)
            continue
        if isinstance(node[key], CfgNode):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{source}: {full} is a section; expected a mapping, got {value!r}"
                )
            _merge(node[key], value, source, root, full + ".")
        else:
            node[key] = _coerce(_decode(value), node[key], full, source)


def _set_option(cfg, full_key, raw_value):
    if full_key in RETIRED:
        return
    node = cfg
    parts = full_key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None and node.is_new_allowed():
            node[part] = CfgNode(new_allowed=True)
            child = node[part]
        if not isinstance(child, CfgNode):
            raise _unknown_key(full_key, "command line", cfg)
        node = child
    leaf = parts[-1]
    value = _decode(raw_value)
    if leaf not in node:
        if not node.is_new_allowed():
            raise _unknown_key(full_key, "command line", cfg)
        node[leaf] = value
    elif isinstance(node[leaf], CfgNode):
        raise ConfigError(f"command line: {full_key} is a section, not a value")
    else:
        node[leaf] = _coerce(value, node[leaf], full_key, "command line")


def _decode(value):
    if isinstance(value, dict):
        return CfgNode(value, new_allowed=True)
    return CfgNode._decode_cfg_value(value)


# Lists of numbers whose default is empty, so the type cannot come from it.
NUMBER_LISTS = {"DATASET.CLASS_WEIGHTS"}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _coerce(value, default, key, source):
    """Fit `value` to the type of `default`, the way a user means it, or fail naming the key."""
    if type(value) is type(default):
        return value
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    elif isinstance(default, (list, tuple)):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if key in NUMBER_LISTS or (default and all(map(_is_number, default))):
            if all(map(_is_number, items)):
                return type(default)(items)
            raise ConfigError(
                f"{source}: {key} expects numbers separated by commas (e.g. 0.5,1.0), got {value!r}"
            )
        if isinstance(value, (list, tuple, int, float, str)):
            return type(default)(items)
    elif isinstance(default, str) and value is None:
        return ""
    raise ConfigError(
        f"{source}: {key} expects a {type(default).__name__} (now {default!r}), got {value!r}"
    )
