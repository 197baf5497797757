"""How the original code and its forks saved network weights: a state dict -> the saved object."""

import torch

RELEASED_LAYOUTS = {
    "fullmodel_with_loss": lambda s: {
        **{f"model.{k}": v for k, v in s.items()},
        "loss.criterion.weight": torch.ones(19),
    },
    "checkpoint_pth_tar": lambda s: {
        "epoch": 3,
        "best_mIoU": 0.5,
        "state_dict": {f"model.{k}": v for k, v in s.items()},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0, 1]}]},
    },
    "dataparallel": lambda s: {f"module.{k}": v for k, v in s.items()},
    "dataparallel_fullmodel": lambda s: {f"module.model.{k}": v for k, v in s.items()},
    "torch04_no_num_batches_tracked": lambda s: {
        f"model.{k}": v for k, v in s.items() if not k.endswith("num_batches_tracked")
    },
    "bare": lambda s: dict(s),
}
