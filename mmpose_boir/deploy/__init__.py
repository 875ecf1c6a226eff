"""Deployment of BoIR: fast PyTorch inference, the exportable network and
its ONNX export (``tools/export_onnx.py``)."""
from .export import compare_onnxruntime, export_onnx
from .fast_inference import switch_to_fast_inference
from .onnx_model import (OUTPUT_NAMES, BoIRDeployModel, build_deploy_model,
                         keypoints_to_image, preprocess)

__all__ = [
    'OUTPUT_NAMES', 'BoIRDeployModel', 'build_deploy_model',
    'keypoints_to_image', 'preprocess', 'export_onnx', 'compare_onnxruntime',
    'switch_to_fast_inference'
]
