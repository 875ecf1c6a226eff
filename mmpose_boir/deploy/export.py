"""ONNX export of :class:`BoIRDeployModel` and the onnxruntime check."""
import time
import warnings
from typing import Dict, Sequence

import numpy as np
import torch

from .onnx_model import OUTPUT_NAMES, BoIRDeployModel


def export_onnx(model: BoIRDeployModel, path: str,
                shape: Sequence[int] = (512, 512), opset: int = 17) -> str:
    """Trace ``model`` on a ``[1, 3, H, W]`` input (``shape`` = (H, W)) and
    save it to ``path`` with the TorchScript-based exporter; the result is
    checked with ``onnx.checker``.

    The input shape is fixed: the heatmap size is baked into the graph's
    reshapes, top-k size and peak kernel (a model exported with dynamic
    H, W gives wrong results on other shapes), so export one model per
    input shape and fit images into it (``preprocess(..., 'fit')``).
    """
    dummy = torch.zeros(1, 3, *shape, device=model.mean.device)
    model = model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # shapes, strides and the peak kernel are constants of the graph by
        # design; InstanceNorm always normalises with the input's stats
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', message='.*instance_norm.*')
        torch.onnx.export(
            model, (dummy, ), path, input_names=['image'],
            output_names=list(OUTPUT_NAMES), opset_version=opset,
            do_constant_folding=True,
            dynamo=False)
    import onnx
    onnx.checker.check_model(onnx.load(path))
    return path


def compare_onnxruntime(model: BoIRDeployModel, path: str,
                        image: np.ndarray) -> Dict[str, float]:
    """Run ``path`` in onnxruntime (CPU) and ``model`` in PyTorch on one
    ``[1, 3, H, W]`` float32 input.

    Returns the maximum absolute difference of each output (keys of
    :data:`OUTPUT_NAMES`; ``valid`` as 0/1), ``num_valid`` (PyTorch's
    count of valid rows) and the two run times ``pytorch_s`` and
    ``onnxruntime_s``.
    """
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    t0 = time.perf_counter()
    ort_out = sess.run(None, {'image': image})
    t_ort = time.perf_counter() - t0
    device = model.mean.device
    with torch.no_grad():
        t0 = time.perf_counter()
        pt_out = [o.cpu().numpy()
                  for o in model(torch.from_numpy(image).to(device))]
        t_pt = time.perf_counter() - t0
    result = {}
    for name, a, b in zip(OUTPUT_NAMES, pt_out, ort_out):
        if a.shape != b.shape:
            raise AssertionError(f'{name}: PyTorch {a.shape} vs onnxruntime '
                                 f'{b.shape}')
        result[name] = float(
            np.abs(a.astype(np.float64) - b.astype(np.float64)).max()
        ) if a.size else 0.0
    result['num_valid'] = int(pt_out[3].sum())
    result['pytorch_s'] = t_pt
    result['onnxruntime_s'] = t_ort
    return result
