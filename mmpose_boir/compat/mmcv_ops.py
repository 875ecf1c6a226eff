"""Make ``import mmpose.models`` work when ``mmcv.ops`` cannot be imported.

MMPose 1.3 imports ``mmcv.ops`` unconditionally (EDPose's deformable
attention, DEKR's deformable conv, mmdet's NMS through ``mmdet.utils``),
but BoIR and CID use no compiled op. With ``mmcv-lite`` (no ``mmcv._ext``)
the import fails and takes all of ``mmpose.models`` down.

Only when ``import mmcv.ops`` fails, :func:`install` registers a placeholder
package ``mmcv.ops`` (and any ``mmcv.ops.<submodule>``): every name imported
from it is a placeholder that raises an ``ImportError`` naming the op as soon
as it is called or instantiated. With a full mmcv build nothing is changed.
"""
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

#: True when the placeholder ``mmcv.ops`` is in use.
MMCV_OPS_FALLBACK = False

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
        return module

    def exec_module(self, module) -> None:
        return None


def install() -> bool:
    """Install the placeholder if the real ``mmcv.ops`` does not import.

    Returns whether the placeholder is in use.
    """
    global MMCV_OPS_FALLBACK
    if MMCV_OPS_FALLBACK:
        return True
    try:
        import mmcv.ops  # noqa: F401
        return False
    except ImportError:
        pass
    for name in [n for n in sys.modules
                 if n == 'mmcv.ops' or n.startswith('mmcv.ops.')]:
        del sys.modules[name]
    sys.meta_path.insert(0, _OpsFinder())
    MMCV_OPS_FALLBACK = True
    return True


install()
