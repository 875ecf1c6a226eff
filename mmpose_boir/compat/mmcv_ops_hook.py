"""The ``mmcv.ops`` fallback at interpreter start, without ``import mmpose_boir``.

tools/install.sh copies this file into site-packages as
``mmpose_boir_mmcv_ops_hook.py`` and writes ``mmpose_boir_mmcv_ops.pth`` next
to it, whose one line is::

    import mmpose_boir_mmcv_ops_hook; mmpose_boir_mmcv_ops_hook.install()

so that ``from mmpose.apis import MMPoseInferencer`` works on mmcv-lite in a
fresh interpreter. At start it only puts a finder on ``sys.meta_path``
(standard library only: no torch, no mmcv, no mmpose is imported). The
finder acts once, on the first ``import mmcv.ops``: it lets the real
``mmcv.ops`` load; only if that raises ``ImportError`` (mmcv-lite has no
``mmcv._ext``) it loads ``mmpose_boir/compat/mmcv_ops.py`` by path (found
with ``importlib.util.find_spec('mmpose_boir')``, which does not import the
package) and serves its placeholder ``mmcv.ops`` instead. With a real mmcv
the real module is kept and nothing else changes. To undo: delete the
``.pth`` file (see docs/install.md, "The mmcv.ops fallback without the
plugin").
"""
import importlib.util
import os
import sys

_MMCV_OPS_FILE = os.path.join('compat', 'mmcv_ops.py')
_HOOK_MODULE_NAME = '_mmpose_boir_mmcv_ops_fallback'  # = mmcv_ops's


def _shim():
    """mmpose_boir/compat/mmcv_ops.py, loaded by path (the package's
    ``__init__`` imports torch and mmpose, so it is not imported)."""
    if _HOOK_MODULE_NAME in sys.modules:
        return sys.modules[_HOOK_MODULE_NAME]
    package = importlib.util.find_spec('mmpose_boir')
    if package is None or not package.submodule_search_locations:
        return None
    for root in package.submodule_search_locations:
        path = os.path.join(root, _MMCV_OPS_FILE)
        if os.path.isfile(path):
            break
    else:
        return None
    spec = importlib.util.spec_from_file_location(_HOOK_MODULE_NAME, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_HOOK_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


class _Loader:
    """Wraps the real ``mmcv.ops`` loader: a failed import becomes the
    placeholder."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_data, is_package, ... of the real one
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        spec = module.__spec__
        try:
            self.loader.exec_module(module)
        except ImportError:
            shim = _shim()
            if shim is None:  # mmpose_boir is gone: the real error
                raise
            # importlib takes whatever sys.modules holds after exec_module
            sys.modules[spec.name] = shim.activate()
        else:
            spec.loader = module.__loader__ = self.loader


class _Finder:
    """On the first ``import mmcv.ops``, wraps the real module's loader;
    then leaves ``sys.meta_path``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'mmcv.ops':
            return None
        uninstall()
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


def installed() -> bool:
    return any(isinstance(f, _Finder) for f in sys.meta_path)


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once), unless ``mmcv.ops`` is
    already imported."""
    if 'mmcv.ops' not in sys.modules and not installed():
        sys.meta_path.insert(0, _Finder())


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
