"""Name -> dataset class. A dataset file registers its class with `@register_dataset("name")`,
the value of DATASET.DATASET."""

from utils.registry import Registry

DATASETS = Registry("dataset", "DATASET.DATASET")
register_dataset = DATASETS.register
dataset_names = DATASETS.names
get_dataset_class = DATASETS.get
