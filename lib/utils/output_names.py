"""Output names for input images: the same for the same image, never one for two images."""

from collections import Counter, defaultdict
from pathlib import PurePath

__all__ = ["output_names"]


def _inside(name):
    """`name` without its root and its '..' and '.' parts, so it stays inside an output folder."""
    name = PurePath(name)
    return PurePath(*(part for part in name.parts if part not in ("..", ".", name.anchor)))


def _with_suffix_in_stem(name):
    return name.with_name(name.name.replace(".", "_")) if name.suffix else name


def output_names(images, names=None, flat=False):
    """One output name (a relative path without suffix, '/'-separated) per image of `images`.

    `names`: the names to start from (default: the image paths), e.g. a path relative to the
    input folder. Each image gets the first of these that no other image shares: its file stem
    (with `flat`), its name without the suffix (folders kept, without a root or '..'), its name
    with the suffix in the stem (x.jpg -> x_jpg), that with _2, _3, ... in the order given.
    """
    names = [PurePath(n) for n in (images if names is None else names)]
    first_name = {}
    for image, name in zip(images, names, strict=True):
        first_name.setdefault(image, name)
    levels = [lambda n: _inside(n).with_suffix(""), lambda n: _with_suffix_in_stem(_inside(n))]
    if flat:
        levels.insert(0, lambda n: PurePath(n.stem))
    counts = [Counter(level(n) for n in first_name.values()) for level in levels]
    chosen = {}
    for image, name in first_name.items():
        level = next((i for i, c in enumerate(counts) if c[levels[i](name)] == 1), len(levels) - 1)
        chosen[image] = levels[level](name)
    groups = defaultdict(list)
    for image, name in chosen.items():
        groups[name].append(image)
    used = set(groups)
    for name, shared in groups.items():
        number = 1
        for image in shared[1:]:
            while (numbered := name.with_name(f"{name.name}_{number + 1}")) in used:
                number += 1
            chosen[image] = numbered
            used.add(numbered)
    return [chosen[image].as_posix() for image in images]
