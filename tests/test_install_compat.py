"""Issue 2: the install's compat shims and the environment check."""
import subprocess
import sys

import numpy as np
import pytest
import torch


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)


def test_plugin_mmpose_models_and_mmcv_ops_import():
    proc = _python('import mmpose_boir, mmpose.models, mmcv.ops; '
                   'from mmcv.ops.nms import batched_nms; print("ok")')
    assert proc.returncode == 0 and 'ok' in proc.stdout, proc.stderr[-2000:]


def test_placeholder_op_raises_a_clear_import_error():
    from mmpose_boir.compat import mmcv_ops
    if not mmcv_ops.MMCV_OPS_FALLBACK:
        pytest.skip('full mmcv with compiled ops is installed')
    from mmcv.ops import MultiScaleDeformableAttention
    with pytest.raises(ImportError,
                       match='MultiScaleDeformableAttention.*mmcv-lite'):
        MultiScaleDeformableAttention(embed_dims=8)


def test_registration_keeps_mmpose_modules():
    import mmpose_boir  # noqa: F401
    from mmpose.registry import MODELS
    from mmpose.models.heads import CIDHead
    head = MODELS.build(dict(type='CIDHead', in_channels=32, gfd_channels=8,
                             num_keypoints=17))
    assert type(head) is CIDHead
    for name in ('BoIR', 'BoIRHead', 'BboxMaskLoss', 'CIoULoss'):
        assert MODELS.get(name) is not None, name


def test_custom_imports_in_a_config(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['mmpose_boir'], "
                   "allow_failed_imports=False)\n"
                   "loss = dict(type='BboxMaskLoss')\n")
    proc = _python(
        'from mmengine.config import Config\n'
        'from mmengine.registry import init_default_scope\n'
        'from mmpose.registry import MODELS\n'
        f'cfg = Config.fromfile({str(cfg)!r})\n'
        "init_default_scope('mmpose')\n"
        "print(type(MODELS.build(cfg.loss)).__name__)\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith('BboxMaskLoss')


def test_weights_only_loads_mmengine_content_but_not_arbitrary(tmp_path):
    import mmpose_boir  # noqa: F401  (allow-list)
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict={'w': torch.ones(2)},
                    meta=dict(buffer=buffer, arr=np.arange(3),
                              scalar=np.float64(2.0))), path)
    out = torch.load(path, weights_only=True)
    assert out['meta']['buffer'].current() == 1.5
    assert (out['meta']['arr'] == np.arange(3)).all()

    class Evil:
        def __reduce__(self):
            return (print, ('pwned', ))

    torch.save(dict(x=Evil()), tmp_path / 'evil.pth')
    with pytest.raises(Exception, match='[Ww]eights only'):
        torch.load(tmp_path / 'evil.pth', weights_only=True)


def test_env_check_passes_on_this_install():
    proc = subprocess.run([sys.executable, 'tools/env_check.py'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmpose',
                 'mmdet', 'numpy', 'xtcocotools', 'CUDA'):
        assert name in proc.stdout


@pytest.mark.parametrize('package', ['xtcocotools', 'mmdet', 'torchvision'])
def test_env_check_names_a_broken_package(package):
    proc = _python(f'import sys; sys.modules[{package!r}] = None\n'
                   'import runpy; sys.argv = ["env_check"]\n'
                   "runpy.run_path('tools/env_check.py', run_name='__main__')")
    assert proc.returncode != 0
    assert f'BROKEN {package}' in proc.stdout
    assert package in proc.stderr.splitlines()[-1]
