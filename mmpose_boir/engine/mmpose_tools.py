"""Run MMPose's own command-line tools with mmpose_boir registered."""
import os.path as osp
import runpy
import sys


def run_mmpose_tool(name: str) -> None:
    """Run ``mmpose/.mim/tools/{name}.py`` as ``__main__`` with this
    process's arguments (``tools/train.py`` and ``tools/test.py``)."""
    import mmpose

    import mmpose_boir  # noqa: F401  (compat shims + registration)
    script = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools',
                      f'{name}.py')
    sys.argv[0] = script
    runpy.run_path(script, run_name='__main__')
