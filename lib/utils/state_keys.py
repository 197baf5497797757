"""How a state dict differs from a model's: the missing, unexpected and mis-shaped keys, and
the text that names them in error messages and reports."""

__all__ = ["compare_shapes", "format_differences", "key_list", "shapes_of", "state_differences"]

SHOW = 5  # how many keys of each kind a message names


def key_list(keys):
    """The first SHOW of `keys`, sorted, and how many there are in all."""
    keys = sorted(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > SHOW else ""
    return ", ".join(keys[:SHOW]) + more


def shapes_of(state):
    """{key: shape tuple} of a state dict."""
    return {key: tuple(value.shape) for key, value in state.items()}


def compare_shapes(shapes, model_shapes):
    """(missing, unexpected, mis-shaped) keys of a file's bare {key: shape} against a model's, as
    a strict load sees them (a file without any `num_batches_tracked` does not miss them).
    Mis-shaped entries are (key, file shape, model shape)."""
    if not any(k.endswith("num_batches_tracked") for k in shapes):
        tracked = {k: s for k, s in model_shapes.items() if k.endswith("num_batches_tracked")}
        shapes = {**tracked, **shapes}
    missing = [k for k in model_shapes if k not in shapes]
    unexpected = [k for k in shapes if k not in model_shapes]
    mis_shaped = [
        (k, list(shapes[k]), list(shape))
        for k, shape in model_shapes.items()
        if k in shapes and shapes[k] != shape
    ]
    return missing, unexpected, mis_shaped


def format_differences(missing, unexpected, mis_shaped, sep="\n  "):
    """The differences of `compare_shapes` as text: counts and the first keys of each kind."""
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s): {key_list(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): {key_list(unexpected)}")
    if mis_shaped:
        shown = [f"{k} (file {a}, model {b})" for k, a, b in mis_shaped]
        parts.append(f"{len(mis_shaped)} mis-shaped key(s): {key_list(shown)}")
    return sep.join(parts)


def state_differences(state, model_state, sep="; "):
    """`format_differences` of two state dicts."""
    return format_differences(*compare_shapes(shapes_of(state), shapes_of(model_state)), sep=sep)
