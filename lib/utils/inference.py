"""The panorama fork's import path, kept for its users (`from utils.inference import
batch_inference`): its three functions, defined in `inference.panorama_api`."""

from inference import batch_inference, inference, single_image_inference

__all__ = ["batch_inference", "inference", "single_image_inference"]
