"""Check the installed stack: ``python tools/env_check.py`` (or
``python -m mmpose_boir.env`` when the package itself imports).

Prints the version of every package BoIR needs and whether it works, and
exits non-zero naming each missing or broken package.
"""
import argparse
import importlib
import importlib.util
import os
import sys
from importlib import metadata
from typing import Callable, Dict, List, Optional, Tuple

Check = Callable[[], str]


def _version(module: str) -> str:
    """Import ``module`` and return its version."""
    mod = importlib.import_module(module)
    try:
        return getattr(mod, '__version__', None) or metadata.version(module)
    except metadata.PackageNotFoundError:
        return 'unknown version'



def _torch() -> str:
    import torch
    cuda = (f'CUDA {torch.version.cuda}, available'
            if torch.cuda.is_available() else 'CUDA not available')
    torch.zeros(1) + 1
    return f'{torch.__version__} ({cuda})'


def _torchvision() -> str:
    import torch
    import torchvision
    from torchvision.ops import nms
    nms(torch.zeros(1, 4), torch.zeros(1), 0.5)  # its compiled ops load
    return torchvision.__version__


def _mmcv_ops_shim():
    """mmpose_boir's mmcv.ops fallback, applied (loaded by path when the
    package itself does not import, so that the other checks still run)."""
    try:
        from mmpose_boir.compat import mmcv_ops
    except Exception:
        name = 'mmpose_boir_compat_mmcv_ops'
        if name not in sys.modules:
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'compat', 'mmcv_ops.py')
            spec = importlib.util.spec_from_file_location(name, path)
            sys.modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[name])
        mmcv_ops = sys.modules[name]
    return mmcv_ops


def _mmcv() -> str:
    import mmcv
    import mmcv.ops  # noqa: F401  (the real one, or the placeholder)
    ops = ('compiled ops unavailable: mmcv.ops placeholder active (mmcv-lite)'
           if _mmcv_ops_shim().MMCV_OPS_FALLBACK else 'compiled ops load')
    return f'{mmcv.__version__} ({ops})'


def _numpy() -> str:
    import numpy
    return numpy.__version__


def _xtcocotools() -> str:
    import numpy as np
    from xtcocotools import mask
    rle = mask.encode(np.asfortranarray(np.ones((4, 4), np.uint8)))
    if int(mask.area(rle)) != 16:
        raise RuntimeError('mask.area gives a wrong result')
    return _version('xtcocotools')


def _mmpose() -> str:
    import mmpose
    import mmpose.models  # noqa: F401  (needs mmcv.ops, mmdet.utils)
    return mmpose.__version__


def _mmpose_boir() -> str:
    import mmpose_boir
    from mmpose.registry import MODELS
    if MODELS.get('BoIRHead') is None:
        raise RuntimeError('BoIRHead is not registered')
    return mmpose_boir.__version__


CHECKS: List[Tuple[str, Check]] = [
    ('torch', _torch),
    ('torchvision', _torchvision),
    ('numpy', _numpy),
    ('mmengine', lambda: _version('mmengine')),
    ('mmcv', _mmcv),
    ('mmdet', lambda: _version('mmdet')),
    ('xtcocotools', _xtcocotools),
    ('mmpose', _mmpose),
    ('mmpose_boir', _mmpose_boir),
]


def run_checks(checks: Optional[List[Tuple[str, Check]]] = None
               ) -> Dict[str, Tuple[bool, str]]:
    """Run every check; ``{package: (ok, version or error)}``."""
    try:
        _mmcv_ops_shim()
    except Exception:  # mmcv itself is missing: its check reports it
        pass
    results = {}
    for name, check in checks or CHECKS:
        try:
            results[name] = (True, check())
        except Exception as exc:  # report every failure, whatever its kind
            results[name] = (False, f'{type(exc).__name__}: {exc}')
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quiet', action='store_true',
                        help='print only problems')
    args = parser.parse_args(argv)
    results = run_checks()
    broken = [name for name, (ok, _) in results.items() if not ok]
    for name, (ok, info) in results.items():
        if not ok or not args.quiet:
            print(f'{"ok " if ok else "BROKEN"} {name:12s} {info}')
    if broken:
        print(f'mmpose-boir environment check failed: broken or missing: '
              f'{", ".join(broken)} (reinstall with `bash tools/install.sh`;'
              f' see docs/install.md)', file=sys.stderr)
        return 1
    if args.quiet:
        print('mmpose-boir environment check: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
