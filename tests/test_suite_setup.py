"""The suite's own set-up (pytest.ini, tests/conftest.py): pytest-xdist
workers by default, one thread in each, each module's tests on one worker
unless it is spread, and directories built once for all workers."""
import configparser
import os
import os.path as osp

import pytest
import torch

import conftest


def test_pytest_ini_runs_one_worker_per_core_in_groups():
    ini = configparser.ConfigParser()
    ini.read(osp.join(conftest.REPO_ROOT, 'pytest.ini'))
    addopts = ini['pytest']['addopts'].split()
    assert addopts[addopts.index('-n') + 1] == 'auto'
    assert addopts[addopts.index('--dist') + 1] == 'loadgroup'
    assert '--no-loadscope-reorder' in addopts  # FIRST_MODULES come first
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
    tests = osp.dirname(osp.abspath(conftest.__file__))
    for name in sorted(conftest.SPREAD_MODULES | set(conftest.FIRST_MODULES)):
        assert osp.isfile(osp.join(tests, name)), f'{name} does not exist'
    assert not conftest.SPREAD_MODULES & set(conftest.FIRST_MODULES)
    assert not conftest.SPREAD_MODULES & set(conftest.SHARED_GROUPS)
    for name in conftest.SHARED_GROUPS:
        assert osp.isfile(osp.join(tests, name)), f'{name} does not exist'


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
