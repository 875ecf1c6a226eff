"""Make ``import mmpose.models`` work when ``mmcv.ops`` cannot be imported.

MMPose 1.3 imports ``mmcv.ops`` unconditionally (EDPose's deformable
attention, DEKR's deformable conv, mmdet's NMS through ``mmdet.utils``),
but BoIR and CID use no compiled op. With ``mmcv-lite`` (no ``mmcv._ext``)
the import fails and takes all of ``mmpose.models`` down.

Only when ``import mmcv.ops`` fails, :func:`install` registers a placeholder
package ``mmcv.ops`` (and any ``mmcv.ops.<submodule>``): every name imported
from it is a placeholder that raises an ``ImportError`` naming the op as soon
as it is called or instantiated. With a full mmcv build nothing is changed.

The same placeholder is also available without importing this package: the
interpreter-start hook ``mmcv_ops_hook.py`` (next to this file; installed into
site-packages by tools/install.sh) loads this file by path the first time
``import mmcv.ops`` fails, and calls :func:`activate` (see docs/install.md,
"The mmcv.ops fallback without the plugin"). This file therefore imports
nothing but the standard library.
"""
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

#: True when the placeholder ``mmcv.ops`` is in use.
MMCV_OPS_FALLBACK = False

#: The name under which the start-up hook loads this file: it then calls
#: :func:`activate` itself, so nothing runs on load.
HOOK_MODULE_NAME = '_mmpose_boir_mmcv_ops_fallback'

#: Set on placeholder modules (whichever copy of this file made them).
MARKER = '__mmpose_boir_placeholder__'

_HOW_TO = ('mmcv-lite has no compiled ops. Install full mmcv 2.1.0 (see '
           'docs/install.md, "mmcv with compiled ops") to use it.')


def _placeholder(module: str, name: str) -> type:
    """A class standing for the op ``module.name``: unusable, but importable
    and usable in ``isinstance`` checks and registry decorators."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise ImportError(f'{module}.{name} is unavailable: {_HOW_TO}')

    return type(name, (), {
        '__init__': fail,
        '__new__': lambda cls, *a, **k: fail(),
        '__module__': module,
        '__doc__': f'Placeholder for {module}.{name} ({_HOW_TO})',
    })


class _OpsModule(types.ModuleType):

    def __getattr__(self, name: str) -> Any:
        if name.startswith('__'):
            raise AttributeError(name)
        value = _placeholder(self.__name__, name)
        setattr(self, name, value)
        return value


class _OpsFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``mmcv.ops`` and its submodules as placeholder packages."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == 'mmcv.ops' or fullname.startswith('mmcv.ops.'):
            return importlib.machinery.ModuleSpec(
                fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _OpsModule(spec.name)
        module.__path__ = []
        module.__file__ = None
        setattr(module, MARKER, True)
        return module

    def exec_module(self, module) -> None:
        return None


def activate() -> types.ModuleType:
    """Serve the placeholder from now on (unconditionally) and return the
    placeholder ``mmcv.ops`` module, not yet in ``sys.modules``: forgets any
    ``mmcv.ops`` submodule imported so far and puts the finder first on
    ``sys.meta_path``."""
    global MMCV_OPS_FALLBACK
    for name in [n for n in sys.modules if n.startswith('mmcv.ops.')]:
        del sys.modules[name]
    finder = _OpsFinder()
    sys.meta_path.insert(0, finder)
    MMCV_OPS_FALLBACK = True
    spec = finder.find_spec('mmcv.ops')
    return finder.create_module(spec)


def install() -> bool:
    """Install the placeholder if the real ``mmcv.ops`` does not import.

    Returns whether the placeholder is in use (also when the start-up hook
    installed it).
    """
    global MMCV_OPS_FALLBACK
    if MMCV_OPS_FALLBACK:
        return True
    try:
        import mmcv.ops  # noqa: F401
    except ImportError:
        pass
    else:
        # the real one, or the start-up hook's placeholder
        MMCV_OPS_FALLBACK = bool(getattr(sys.modules['mmcv.ops'], MARKER,
                                         False))
        return MMCV_OPS_FALLBACK
    sys.modules.pop('mmcv.ops', None)
    activate()
    return True


if __name__ != HOOK_MODULE_NAME:
    install()
