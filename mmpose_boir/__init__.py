"""mmpose-boir: BoIR (BMVC 2023) as an MMPose 1.x plugin.

Importing this package registers every module into MMPose's registries and
wraps MMEngine's checkpoint loaders (registered again with
``CheckpointLoader.register_scheme``). The
compatibility shims of :mod:`mmpose_boir.compat` run first: a placeholder
``mmcv.ops`` where the real one does not import (mmcv-lite), so that
``mmpose.models`` imports; and MMEngine's checkpoint loaders allow-listing
MMEngine's checkpoint types for weights-only loading while they load. See
docs/install.md, "Compatibility shims".
"""
from .version import __version__  # noqa: F401
from . import compat  # noqa: F401  (must run before mmpose.models is imported)
from . import codecs, datasets, engine, evaluation, models  # noqa: F401,E402

__all__ = ['__version__']
