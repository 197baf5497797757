"""Output names for input images: the same for the same image, never one for two images."""

import os
from collections import Counter, defaultdict
from pathlib import PurePath

__all__ = ["output_names"]


def _inside(name):
    """`name` without its root and its '..' and '.' parts, so it stays inside an output folder."""
    name = PurePath(name)
    return PurePath(*(part for part in name.parts if part not in ("..", ".", name.anchor)))


def _stem(name):
    return os.path.splitext(os.path.basename(name))[0]


def _without_suffix(name):
    return _inside(name).with_suffix("").as_posix()


def _suffix_in_stem(name):
    inside = _inside(name)
    return inside.with_name(inside.name.replace(".", "_")).as_posix()


def output_names(images, names=None, flat=False):
    """One output name (a relative path without suffix, '/'-separated) per image of `images`.

    `names`: the names to start from (default: the image paths), e.g. a path relative to the
    input folder. Each image gets the first of these that no other image shares: its file stem
    (with `flat`), its name without the suffix (folders kept, without a root or '..'), its name
    with the suffix in the stem (x.jpg -> x_jpg), that with _2, _3, ... in the order given.
    """
    keys = [str(image) for image in images]
    first_name = {}
    for key, name in zip(keys, images if names is None else names, strict=True):
        first_name.setdefault(key, str(name))
    levels = [_without_suffix, _suffix_in_stem]
    if flat:
        levels.insert(0, _stem)
    chosen, undecided = {}, list(first_name)
    for i, level in enumerate(levels):
        candidates = {key: level(first_name[key]) for key in undecided}
        counts = Counter(candidates.values())
        last = i == len(levels) - 1
        chosen.update((k, c) for k, c in candidates.items() if counts[c] == 1 or last)
        undecided = [key for key in undecided if key not in chosen]
    groups = defaultdict(list)
    for key, name in chosen.items():
        groups[name].append(key)
    used = set(groups)
    for name, shared in groups.items():
        number = 1
        for key in shared[1:]:
            while (numbered := f"{name}_{number + 1}") in used:
                number += 1
            chosen[key] = numbered
            used.add(numbered)
    return [chosen[key] for key in keys]
