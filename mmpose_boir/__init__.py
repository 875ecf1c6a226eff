"""mmpose-boir: BoIR (BMVC 2023) as an MMPose 1.x plugin.

Importing this package registers every module into MMPose's registries.
The compatibility shims in :mod:`mmpose_boir.compat` run first, so that
``mmpose.models`` imports on installs without compiled ``mmcv.ops`` and
MMEngine checkpoints load under torch's weights-only default.
"""
from .version import __version__  # noqa: F401
from . import compat  # noqa: F401  (must run before mmpose.models is imported)
from . import codecs, datasets, engine, models  # noqa: F401,E402

__all__ = ['__version__']
