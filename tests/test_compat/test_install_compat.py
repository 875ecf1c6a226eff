"""The install's compat shims and the environment check.

``import mmpose_boir`` registers modules and wraps MMEngine's checkpoint
loaders; it must not touch torch's process-wide weights-only allow-list,
MMEngine's distributed launcher, torch's thread count nor the warning and
log filters that the tools set (see docs/install.md, "Compatibility
shims").

What a fresh interpreter sees on import is read from one interpreter
(``FRESH``, run once per session, without ``OMP_NUM_THREADS`` so that the
tools' thread rule would act if the import applied it), in the order a
user meets it: MMPose's own API without the plugin, a config's
``custom_imports``, then the plugin itself. Each test asserts its own part
of what it reported.

The environment check (tools/env_check.py) runs on the command line on
this install (its exit status); with a package made unimportable it runs
in this process.
"""
import json
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, repo_env, shared_dir

pytestmark = pytest.mark.spread

#: a fresh interpreter's view of the imports: {section: value, or
#: {"error": traceback}}, printed as JSON on the last line
FRESH = r"""
import json, sys, traceback
facts = {}


def section(name, fn):
    try:
        facts[name] = fn()
    except BaseException:
        facts[name] = {'error': traceback.format_exc()}


import torch
torch.set_num_threads(3)  # not a default: the plugin must leave it
from mmengine.dist import utils
from mmengine.model.wrappers import distributed as wrappers
launcher = (utils._init_dist_pytorch,
            wrappers.MMDistributedDataParallel.__init__)


def apis_without_plugin():
    from mmpose.apis import MMPoseInferencer  # noqa: F401
    return 'mmpose_boir' in sys.modules


def custom_imports():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    cfg = Config.fromfile(sys.argv[1])
    init_default_scope('mmpose')
    return type(MODELS.build(cfg.loss)).__name__


def plugin():
    import mmcv.ops
    import mmpose_boir, mmpose.models  # noqa: F401
    from mmcv.ops.nms import batched_nms  # noqa: F401
    from mmpose_boir.compat import mmcv_ops
    return [mmcv_ops.MMCV_OPS_FALLBACK,
            getattr(sys.modules['mmcv.ops'], '__file__', 1) is None]


def launcher_unchanged():
    import mmpose_boir, mmpose.models  # noqa: F401
    return [utils._init_dist_pytorch is launcher[0],
            wrappers.MMDistributedDataParallel.__init__ is launcher[1]]


def allow_list():
    import mmpose_boir  # noqa: F401
    from mmengine.runner import CheckpointLoader  # noqa: F401
    safe = torch.serialization.get_safe_globals()
    return dict(getattr=getattr in safe,
                modules=sorted({getattr(g, '__module__', '?').split('.')[0]
                                for g in safe if not isinstance(g, tuple)}),
                alias=any(isinstance(g, tuple) for g in safe))


def quiet():
    import warnings
    import mmpose_boir  # noqa: F401
    from mmengine.logging import MMLogger
    from mmpose_boir.engine.tool_setup import QUIET_WARNINGS
    patterns = [f[1].pattern for f in warnings.filters if f[1]]
    return dict(warning_filters=[p for p in patterns for q in QUIET_WARNINGS
                                 if q in p],
                logger_filters=len(MMLogger.get_current_instance().filters))


section('apis_without_plugin', apis_without_plugin)
section('custom_imports', custom_imports)
section('plugin', plugin)
section('launcher_unchanged', launcher_unchanged)
section('allow_list', allow_list)
section('quiet', quiet)
section('threads', torch.get_num_threads)  # after every import above
print(json.dumps(facts))
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope='module')
def fresh(tmp_path_factory):
    """What ``FRESH`` reported (run once per session, for every worker)."""
    def build(path):
        cfg = path / 'cfg.py'
        cfg.write_text("custom_imports = dict(imports=['mmpose_boir'], "
                       "allow_failed_imports=False)\n"
                       "loss = dict(type='BboxMaskLoss')\n")
        env = repo_env()
        env.pop('OMP_NUM_THREADS')
        proc = subprocess.run([sys.executable, '-c', FRESH, str(cfg)],
                              cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        (path / 'out.txt').write_text(proc.stdout + proc.stderr)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (path / 'facts.json').write_text(proc.stdout.strip().splitlines()[-1])

    path = shared_dir(tmp_path_factory, 'install_compat_fresh', build)
    return json.loads((path / 'facts.json').read_text())


def _fact(fresh, name):
    value = fresh[name]
    assert not (isinstance(value, dict) and 'error' in value), \
        value['error'] if isinstance(value, dict) else value
    return value


def test_plugin_mmpose_models_and_mmcv_ops_import(fresh):
    # mmpose_boir, mmpose.models, mmcv.ops and mmcv.ops.nms.batched_nms
    _fact(fresh, 'plugin')


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


def test_custom_imports_in_a_config(fresh):
    """A config's ``custom_imports`` alone registers the plugin's modules."""
    assert _fact(fresh, 'custom_imports') == 'BboxMaskLoss'


def test_import_leaves_torch_allow_list_alone(fresh):
    """Nothing of ours (getattr least of all) is allow-listed process-wide."""
    facts = _fact(fresh, 'allow_list')
    assert facts['getattr'] is False
    assert facts['alias'] is False
    for ours in ('mmengine', 'numpy', 'mmpose_boir', 'mmpose'):
        assert ours not in facts['modules'], facts['modules']


def test_import_does_not_patch_the_distributed_launcher(fresh):
    """The CPU fallback of ``--launcher pytorch`` is for tools/train.py and
    tools/test.py only; ``import mmpose_boir`` leaves MMEngine alone."""
    assert _fact(fresh, 'launcher_unchanged') == [True, True]


def test_import_leaves_torch_threads_alone(fresh):
    assert _fact(fresh, 'threads') == 3


def test_importing_the_package_changes_no_thread_count_or_filter(fresh):
    """(Other libraries that MMPose imports add warning filters of their
    own: only the tools' ones are looked for.)"""
    assert _fact(fresh, 'threads') == 3  # OMP_NUM_THREADS not set
    assert _fact(fresh, 'quiet') == dict(warning_filters=[],
                                         logger_filters=0)


def _mmengine_content_checkpoint(path):
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    buffer.update(1.5)
    torch.save(dict(state_dict={'w': torch.ones(2)},
                    meta=dict(buffer=buffer, arr=np.arange(3),
                              scalar=np.float64(2.0))), path)
    return path


class _Evil:

    def __reduce__(self):
        return (print, ('pwned', ))


class _ForgedLookup:
    """Pickles as ``getattr(HistoryBuffer, 'update')``: a lookup that a
    Runner checkpoint never makes."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, 'update'))


def test_mmengine_content_loads_weights_only_in_scope_only(tmp_path):
    import pickle

    import mmpose_boir  # noqa: F401
    from mmengine.runner import CheckpointLoader
    from mmpose_boir.compat.checkpoint import allow_mmengine_checkpoints
    path = _mmengine_content_checkpoint(tmp_path / 'ckpt.pth')
    before = set(torch.serialization.get_safe_globals())
    # MMEngine's loader: allow-listed while it loads
    out = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert out['meta']['buffer'].current() == 1.5
    assert out['meta']['buffer'].statistics('mean') == 1.5
    assert (out['meta']['arr'] == np.arange(3)).all()
    assert set(torch.serialization.get_safe_globals()) == before
    # a plain torch.load: not allow-listed
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer|numpy'):
        torch.load(path, weights_only=True)
    with allow_mmengine_checkpoints():
        assert torch.load(path, weights_only=True)['meta']['scalar'] == 2.0
    assert set(torch.serialization.get_safe_globals()) == before


@pytest.mark.parametrize('payload', [_Evil, _ForgedLookup])
def test_arbitrary_content_is_refused_even_in_scope(tmp_path, payload):
    import pickle

    import mmpose_boir  # noqa: F401
    from mmengine.runner import CheckpointLoader, load_checkpoint
    from mmpose_boir.compat.checkpoint import allow_mmengine_checkpoints
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=dict(x=payload())), path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(1, 1), str(path), map_location='cpu')
    with allow_mmengine_checkpoints(), pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_checkpoint_loader_wrapping_can_be_undone(tmp_path):
    import pickle

    from mmengine.runner import CheckpointLoader
    from mmengine.runner.checkpoint import load_from_local
    from mmpose_boir.compat import checkpoint
    path = _mmengine_content_checkpoint(tmp_path / 'ckpt.pth')
    assert checkpoint.installed()
    try:
        checkpoint.uninstall()
        assert not checkpoint.installed()
        assert CheckpointLoader._get_checkpoint_loader(str(path)) \
            is load_from_local
        with pytest.raises(pickle.UnpicklingError):
            CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    finally:
        checkpoint.install()
    checkpoint.install()  # idempotent: wraps once
    loader = CheckpointLoader._get_checkpoint_loader(str(path))
    assert loader.__wrapped__ is load_from_local
    assert CheckpointLoader.load_checkpoint(str(path))['meta']['arr'].sum() \
        == 3


def test_env_check_passes_on_this_install():
    proc = subprocess.run([sys.executable, 'tools/env_check.py'],
                          cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmpose',
                 'mmdet', 'numpy', 'xtcocotools', 'CUDA'):
        assert name in proc.stdout


@pytest.mark.parametrize('package', ['xtcocotools', 'mmdet', 'torchvision'])
def test_env_check_names_a_broken_package(package, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, package, None)  # cannot be imported
    monkeypatch.setattr(sys, 'argv', ['env_check'])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(f'{REPO_ROOT}/tools/env_check.py', run_name='__main__')
    out, err = capsys.readouterr()
    assert exit_.value.code != 0
    assert f'BROKEN {package}' in out
    assert package in err.splitlines()[-1]


# --- the mmcv.ops fallback at interpreter start (tools/install.sh) ---------

def _startup_hook_installed() -> bool:
    import sysconfig
    from pathlib import Path
    site = Path(sysconfig.get_paths()['purelib'])
    return ((site / 'mmpose_boir_mmcv_ops.pth').is_file()
            and (site / 'mmpose_boir_mmcv_ops_hook.py').is_file())


def _require_startup_hook():
    if _startup_hook_installed():
        return
    proc = _python('import mmcv.ops')
    if proc.returncode == 0:
        return  # a real mmcv with compiled ops: no fallback needed
    pytest.fail('mmpose_boir_mmcv_ops.pth is not in site-packages and '
                'mmcv.ops does not import: run `bash tools/install.sh` '
                '(see docs/install.md, "The mmcv.ops fallback without the '
                'plugin")')


def test_mmpose_apis_import_without_the_plugin(fresh):
    _require_startup_hook()
    # the plugin was not imported
    assert _fact(fresh, 'apis_without_plugin') is False


def test_plugin_imports_after_the_startup_fallback(fresh):
    _require_startup_hook()
    # both say "placeholder" (mmcv-lite) or both say "real" (full mmcv)
    assert _fact(fresh, 'plugin') in ([True, True], [False, False])


def test_interpreter_start_stays_cheap():
    """The .pth hook imports no torch, mmcv or mmpose at start."""
    proc = _python("import sys; print(sorted(m for m in ('torch', 'mmcv', "
                   "'mmpose', 'mmpose_boir', 'numpy') if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == '[]', proc.stdout


def test_startup_hook_keeps_a_real_mmcv_ops(tmp_path):
    """A fake mmcv whose ops import: the hook leaves it alone."""
    fake = tmp_path / 'mmcv'
    (fake / 'ops').mkdir(parents=True)
    (fake / '__init__.py').write_text('')
    (fake / 'ops' / '__init__.py').write_text('REAL = True\n')
    proc = subprocess.run([sys.executable, '-S', '-c', 
        f'import sys; sys.path.insert(0, {str(tmp_path)!r})\n'
        "sys.modules.pop('mmcv', None)\n"
        'import importlib.util\n'
        "spec = importlib.util.spec_from_file_location('hook', "
        f"{REPO_ROOT + '/mmpose_boir/compat/mmcv_ops_hook.py'!r})\n"
        'hook = importlib.util.module_from_spec(spec)\n'
        'spec.loader.exec_module(hook); hook.install()\n'
        'import mmcv.ops\n'
        'print(mmcv.ops.REAL, hook.installed(), '
        "type(mmcv.ops.__loader__).__name__)\n"],  # -S: no site hook
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ['True', 'False', 'SourceFileLoader']


def test_install_sh_writes_the_pth_file():
    text = open(f'{REPO_ROOT}/tools/install.sh').read()
    assert 'mmpose_boir_mmcv_ops.pth' in text
    assert 'mmpose_boir_mmcv_ops_hook.install()' in text
