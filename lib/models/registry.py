"""Name -> model builder. A model file registers its builder with `@register_model("name")`."""

_BUILDERS = {}


def register_model(name):
    """Register `builder(cfg) -> nn.Module` under `name` (the value of MODEL.NAME)."""

    def decorator(builder):
        if name in _BUILDERS:
            raise ValueError(f"model {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return decorator


def model_names():
    return sorted(_BUILDERS)


def get_builder(name):
    if name not in _BUILDERS:
        raise ValueError(f"unknown MODEL.NAME {name!r}; known models: {', '.join(model_names())}")
    return _BUILDERS[name]
