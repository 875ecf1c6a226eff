"""The suite's own set-up (pytest.ini, tests/conftest.py): pytest-xdist
workers by default, one thread in each, each module's tests on one worker
unless it is spread, and directories built once for all workers."""
import configparser
import os
import os.path as osp
from pathlib import Path

import pytest
import torch

import conftest


def test_pytest_ini_runs_one_worker_per_core_in_groups():
    ini = configparser.ConfigParser()
    ini.read(osp.join(conftest.REPO_ROOT, 'pytest.ini'))
    addopts = ini['pytest']['addopts'].split()
    assert addopts[addopts.index('-n') + 1] == 'auto'
    assert addopts[addopts.index('--dist') + 1] == 'loadgroup'
    assert '--no-loadscope-reorder' in addopts  # run_first modules first
    # a dead worker stops the run with its name (xdist cannot replace one
    # under loadgroup)
    assert addopts[addopts.index('--max-worker-restart') + 1] == '0'
    with open(osp.join(conftest.REPO_ROOT, 'requirements', 'pinned.txt')) as f:
        pins = [line.split('==')[0] for line in f if '==' in line]
    assert 'pytest-xdist' in pins and 'execnet' in pins


@pytest.mark.skipif(not conftest.XDIST_WORKER,
                    reason='checks an xdist worker (the suite run with -n 0)')
def test_one_thread_per_worker_and_per_process_it_starts():
    assert torch.get_num_threads() == 1
    assert os.environ['OMP_NUM_THREADS'] == '1'
    assert conftest.repo_env()['OMP_NUM_THREADS'] == '1'


def test_repo_env_keeps_processes_to_one_thread(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    env = conftest.repo_env(PORT=1234)
    assert env['OMP_NUM_THREADS'] == '1' and env['PORT'] == '1234'
    assert env['PYTHONPATH'].split(os.pathsep)[0] == conftest.REPO_ROOT


def test_modules_are_grouped_unless_spread(request):
    mark = request.node.get_closest_marker('xdist_group')
    assert mark is not None and mark.args == ('test_suite_setup.py', )
    if conftest.XDIST_WORKER:  # the group xdist schedules by
        assert request.node.nodeid.endswith('@test_suite_setup.py')


class _Item:
    """What the scheduling reads of a collected test."""

    def __init__(self, path, *marks):
        self.path = Path(conftest.TESTS_DIR, path)
        self.marks, self.added = list(marks), []

    def get_closest_marker(self, name):
        return next((m for m in self.marks if m.name == name), None)

    def add_marker(self, mark):
        self.added.append(mark.mark if hasattr(mark, 'mark') else mark)

    def group(self):
        groups = [m.args[0] for m in self.added if m.name == 'xdist_group']
        return groups[0] if groups else None


def test_scheduling_marks_order_and_group_the_tests():
    """``run_first`` modules first by rank, the rest in collection order;
    ``spread`` modules ungrouped; ``shared_worker`` modules in one group;
    other modules grouped by their path under tests/."""
    mark = pytest.mark
    items = [
        _Item('test_a.py'),
        _Item('test_x/test_spread.py', mark.spread.mark),
        _Item('test_x/test_p1.py', mark.shared_worker('g').mark,
              mark.run_first(1).mark),
        _Item('test_y/test_docs.py', mark.run_first(2).mark),
        _Item('test_x/test_p0.py', mark.shared_worker('g').mark,
              mark.run_first(0).mark),
        _Item('test_b.py'),
    ]
    conftest.pytest_collection_modifyitems(None, items)
    assert [i.path.name for i in items] == [
        'test_p0.py', 'test_p1.py', 'test_docs.py', 'test_a.py',
        'test_spread.py', 'test_b.py']
    assert [i.group() for i in items] == [
        'g', 'g', 'test_y/test_docs.py', 'test_a.py', None, 'test_b.py']


def test_the_suite_uses_registered_scheduling_marks():
    """pytest.ini registers the marks; the float64 parity modules share a
    worker and start first."""
    ini = configparser.ConfigParser()
    ini.read(osp.join(conftest.REPO_ROOT, 'pytest.ini'))
    registered = {line.split(':')[0].split('(')[0].strip()
                  for line in ini['pytest']['markers'].strip().split('\n')}
    assert registered == set(conftest.SCHEDULING_MARKS)
    parity = [p for p in Path(conftest.TESTS_DIR).rglob('test_*parity.py')]
    assert len(parity) >= 2
    for path in parity:
        text = path.read_text()
        assert "pytest.mark.shared_worker('float64_parity')" in text, path
        assert 'pytest.mark.run_first(' in text, path


def test_shared_dir_is_built_once_and_again_after_a_failure(
        tmp_path_factory):
    calls = []

    def build(path):
        calls.append(path)
        (path / 'part').write_text('x')
        if len(calls) == 1:
            raise RuntimeError('first try fails')
        (path / 'done').write_text('y')

    with pytest.raises(RuntimeError, match='first try fails'):
        conftest.shared_dir(tmp_path_factory, 'suite_setup_once', build)
    path = conftest.shared_dir(tmp_path_factory, 'suite_setup_once', build)
    again = conftest.shared_dir(tmp_path_factory, 'suite_setup_once', build)
    assert path == again and calls == [path, path]
    assert sorted(p.name for p in path.iterdir()) == ['.complete', 'done',
                                                      'part']


@pytest.fixture(scope='module', params=['a', 'b'])
def per_module(request):
    return request.param


@pytest.mark.parametrize('arg', [1, 2])
def test_one_group_per_module_fixture_instance(per_module, arg, request):
    """Tests of one module-scoped fixture instance share a worker; a plain
    parameter does not split the group."""
    mark = request.node.get_closest_marker('xdist_group')
    index = ['a', 'b'].index(per_module)
    group = f'test_suite_setup.py[per_module={index}]'
    assert mark.args == (group, )
    if conftest.XDIST_WORKER:
        assert request.node.nodeid.endswith('@' + group)
