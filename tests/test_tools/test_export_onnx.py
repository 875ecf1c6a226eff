"""tools/export_onnx.py on a checkpoint (the deployed tiny model of
tests/deploy_models.py), its ``main`` in this process: exports, checks
onnxruntime against PyTorch on the sample image, and the graph's outputs
have the requested rows. What the export computes:
test_deploy/test_onnx_export.py."""
import onnx
import torch

from deploy_models import TINY, deploy_model, sample_image_file
from mmpose_boir.deploy import OUTPUT_NAMES
from tool_modules import run_tool_main


def test_export_tool_cli(tmp_path, capsys):
    """tools/export_onnx.py on a checkpoint: exports, checks on the sample
    image and exits 0 (differences within --atol 1e-3)."""
    image = sample_image_file(tmp_path)
    ckpt = tmp_path / 'tiny.pth'
    torch.save({'state_dict': deploy_model().state_dict()}, ckpt)
    out = tmp_path / 'cli.onnx'
    rc = run_tool_main('export_onnx', TINY, ckpt, '--out', out,
                       '--check-image', image, '--score-thr', '0',
                       '--max-instances', '5')
    captured = capsys.readouterr()
    assert rc == 0, captured.out + captured.err
    assert 'onnxruntime vs PyTorch' in captured.out
    model = onnx.load(str(out))
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    dims = [d.dim_value
            for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [5, 17, 2]
