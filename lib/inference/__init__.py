"""Running a trained model: the predictor (the original's test policies), the optimised
PyTorch paths, exported models (ONNX Runtime, TorchScript), `load_model`, the one evaluation
loop (`evaluate`), the `Segmenter` API and the panorama fork's functions.

Importing `inference` needs only torch; `OnnxModel` and `providers_for` need
requirements-deploy.txt (onnxruntime) and are imported on first use.
"""

from . import torchscript  # noqa: F401  (registers the TorchScript loader)
from .evaluation import evaluate, predict_dataset, write_scores
from .exported import ExportLoader, export_window, get_loader, loader_of, register_loader
from .fast import InferenceModel, fold_batchnorm, optimize
from .loading import RUNTIMES, load_model, prepare_model
from .panorama_api import batch_inference, inference, single_image_inference
from .predictor import Predictor, resize_bilinear
from .resize_mode import RESIZE_MODES, SquashPredictor, predictor_from_config
from .segmenter import Segmenter, default_preprocess_function
from .torchscript import TorchScriptModel, is_torchscript

# defined by inference.onnx_runtime, imported when first asked for
_ONNX_NAMES = ("OnnxModel", "providers_for")

__all__ = [
    "RESIZE_MODES",
    "RUNTIMES",
    "ExportLoader",
    "InferenceModel",
    "Predictor",
    "Segmenter",
    "SquashPredictor",
    "TorchScriptModel",
    "batch_inference",
    "default_preprocess_function",
    "evaluate",
    "export_window",
    "fold_batchnorm",
    "get_loader",
    "inference",
    "is_torchscript",
    "load_model",
    "loader_of",
    "optimize",
    "predict_dataset",
    "predictor_from_config",
    "prepare_model",
    "register_loader",
    "resize_bilinear",
    "single_image_inference",
    "write_scores",
    *_ONNX_NAMES,
]


def __getattr__(name):
    if name in _ONNX_NAMES:
        from .exported import import_deploy_extra

        return getattr(import_deploy_extra("inference.onnx_runtime"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
