"""Name -> dataset class. A dataset file registers its class with `@register_dataset("name")`."""

_DATASETS = {}


def register_dataset(name):
    """Register a dataset class under `name` (the value of DATASET.DATASET)."""

    def decorator(cls):
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} is registered twice")
        _DATASETS[name] = cls
        return cls

    return decorator


def dataset_names():
    return sorted(_DATASETS)


def get_dataset_class(name):
    if name not in _DATASETS:
        raise ValueError(
            f"unknown DATASET.DATASET {name!r}; known datasets: {', '.join(dataset_names())}"
        )
    return _DATASETS[name]
