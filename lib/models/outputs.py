"""The model-output contract: a model returns one logits tensor (N, K, h, w) or a list of them
(OCR, HANet with an auxiliary head: [aux, main]); TEST.OUTPUT_INDEX picks the main one."""

from utils.errors import ConfigError

__all__ = ["as_list", "main_output"]


def as_list(outputs):
    """The outputs as a list (one tensor -> [tensor])."""
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def main_output(outputs, index=-1):
    """The logits that predictions use: `outputs` itself, or its element `index` of a list."""
    outputs = as_list(outputs)
    if not -len(outputs) <= index < len(outputs):
        raise ConfigError(
            f"TEST.OUTPUT_INDEX {index} does not pick one of the model's {len(outputs)} outputs"
        )
    return outputs[index]
