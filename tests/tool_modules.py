"""Scripts of ``tools/`` imported as modules by the tests, by their path.

``tools/`` itself is not put on ``sys.path`` (its ``test.py`` and
``train.py`` would shadow other modules). Each tool is loaded once per
process and kept in ``sys.modules`` under ``tools.<name>``, so that every
test sees the same classes (e.g. ``ReleaseCheckpointError``).
"""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

TOOLS_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')


def load_tool(name: str) -> ModuleType:
    """``tools/{name}.py`` as a module (its ``__main__`` block not run)."""
    key = f'tools.{name}'
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            key, osp.join(TOOLS_DIR, f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


def run_tool_main(name: str, *args) -> int:
    """``tools/{name}.py ARGS`` in this process: its ``main`` called from
    the repository root with ``args`` (as strings); returns its exit
    status. The torch thread count that the tool's set-up may change is
    restored. Output goes to this process's stdout/stderr (``capsys``)."""
    import contextlib

    import torch
    tool = load_tool(name)
    threads = torch.get_num_threads()
    try:
        with contextlib.chdir(osp.dirname(TOOLS_DIR)):
            return tool.main([str(a) for a in args])
    finally:
        torch.set_num_threads(threads)
