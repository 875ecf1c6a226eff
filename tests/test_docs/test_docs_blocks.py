"""Every fenced code block of README.md and docs/ (its subfolders too) runs
as written.

Convention (for documentation writers):

- Blocks fenced as ```bash, ```shell or ```python are run, in document
  order, each in a fresh process (``bash -e -o pipefail -c`` /
  ``python -c``) whose working directory is a copy of the repository root
  (symlinks to its files, so what the blocks write stays out of the
  checkout; ``../shared`` is reachable as from the checkout). Other fences
  (```text, ```yaml, no language) are not run.
- A block that cannot run here is marked by an HTML comment on the line
  right before its fence, giving the reason::

      <!-- not run: needs COCO and 4 GPUs -->

  Use it only for blocks that need the full datasets, a GPU (or several),
  a download, or that are the install / the whole test suite themselves;
  split a block so that the runnable lines stay checked.
- Before running, the names that stand for a user's files are replaced by
  the table ``SUBSTITUTIONS`` below (a checkpoint trained here with
  tools/overfit_tiny.py, the tiny config instead of W32, the sample images
  of demo/ for a user's images and COCO files, short training). Keep the
  table minimal.

How they run here (test machinery, not part of the convention): a fresh
interpreter's start-up and exit (``import torch, mmpose.apis`` alone takes
seconds) were most of this module's CPU time, so the blocks' ``python`` is a
shim, first on their PATH, that has each interpreter forked from a server
which imported torch, MMEngine, MMCV, OpenCV and MMPose once and ran no
torch op (no OpenMP threads yet: forking is safe). The child takes over the
shim's stdin/stdout/stderr, working directory and argv, and runs the script,
``-c`` code or ``-`` (stdin) as ``__main__`` as a fresh ``python`` would:
the same ``sys.argv``, ``sys.path[0]``, ``__file__``, traceback, output and
exit status (or signal), threads joined, atexit run, open files closed. The
server does not import ``mmpose_boir``: a block that needs the plugin must
import it, as a user would. Anything else goes to the real interpreter
(other options, a missing script, a terminal, another environment than the
server's, a module of the script's folder that the server imported); the
child is killed when the shim dies or after ``TIMEOUT``. Python blocks go
through the same shim; the blocks' stdin is /dev/null. Without the server
(it failed to start) the blocks run in the real interpreter, only slower,
and :func:`test_python_shim_runs_as_python`, which checks the shim against
the real interpreter, fails. ``forked_python.py``, next to this file, is
the server and the shim.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import conftest
import forked_python

pytestmark = pytest.mark.run_first(2)

ROOT = conftest.REPO_ROOT
DOCS = ['README.md'] + sorted(
    osp.relpath(osp.join(d, f), ROOT)
    for d, _, files in os.walk(osp.join(ROOT, 'docs')) for f in files
    if f.endswith('.md'))
RUN_LANGS = {'bash': 'bash', 'shell': 'bash', 'sh': 'bash',
             'python': 'python'}
NOT_RUN = re.compile(r'^<!-- not run: .+ -->$')
CKPT = 'work_dirs/overfit_tiny/epoch_2.pth'
IMAGE = 'demo/000000197388.jpg'  # shipped in the repository

#: (regular expression, replacement), applied in order to every run block.
SUBSTITUTIONS = [
    (r'configs/boir/boir_w32_coco\.py', 'configs/boir/tiny/boir_tiny_coco.py'),
    # MMPose's CID W32, as a base: its tiny form on the sample images
    (r'mmpose::body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-'
     r'512x512\.py', 'configs/box_supervision/tiny/cid_tiny_coco.py'),
    (r'\bCKPT\b', CKPT),                     # a user's checkpoint (quoted
    #                                        in Python: CKPT is a name there)
    (r'\bdemo\.jpg\b', IMAGE),               # a user's image
    (r'(?<![\w/])images/', 'demo/'),        # a folder of images
    # a user's COCO (docs/datasets/): the sample images and their file
    (r'data/coco/annotations/person_keypoints_val2017\.json',
     'demo/coco_sample.json'),
    (r'data/coco/val2017', 'demo'),
    (r'--iters 300\b', '--iters 2 --input-size 128 --min-ap 0'),  # shortened
    (r'\bepoch_300\.pth\b', 'epoch_2.pth'),
    (r'\(512, 512\)', '(128, 128)'),         # the tiny config's input size
]
TIMEOUT = 600


def _blocks():
    """(file, line, language, code, skip reason or None) of every block."""
    blocks = []
    for doc in DOCS:
        lines = open(osp.join(ROOT, doc)).read().split('\n')
        i = 0
        while i < len(lines):
            match = re.match(r'^```(\w*)\s*$', lines[i])
            if not match:
                i += 1
                continue
            end = i + 1
            while not lines[end].startswith('```'):
                end += 1
            prev = lines[i - 1].strip() if i else ''
            skip = prev[len('<!-- not run: '):-4] if NOT_RUN.match(prev) \
                else None
            blocks.append((doc, i + 1, match.group(1),
                           '\n'.join(lines[i + 1:end]), skip))
            i = end + 1
    return blocks


BLOCKS = [b for b in _blocks() if b[2] in RUN_LANGS]


def _substitute(code: str, lang: str = 'bash') -> str:
    for pattern, replacement in SUBSTITUTIONS:
        if lang == 'python' and replacement == CKPT:
            replacement = repr(CKPT)
        code = re.sub(pattern, replacement, code)
    return code


def _run(lang: str, code: str, cwd: str,
         block_env: dict) -> subprocess.CompletedProcess:
    if RUN_LANGS[lang] == 'bash':
        cmd = ['bash', '-e', '-o', 'pipefail', '-c', code]
    else:
        cmd = [block_env['python'], '-c', code]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT, env=block_env['env'],
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope='module')
def block_env():
    """The blocks' environment, whose PATH starts with the ``python`` shim
    of a fork server (``forked_python``) when it starts, and the python
    that runs Python blocks; ``server_log`` says why it did not start."""
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    real = sys.executable
    if shutil.which('python', path=env.get('PATH')):  # what `python` runs
        real = subprocess.run(
            ['python', '-c', 'import sys; print(sys.executable)'], env=env,
            cwd=ROOT, capture_output=True, text=True).stdout.strip() or real
    tmp = tempfile.mkdtemp(prefix='docs-python-')  # short: a socket path
    sock, log = osp.join(tmp, 'sock'), osp.join(tmp, 'server.log')
    os.mkdir(osp.join(tmp, 'bin'))
    shim = osp.join(tmp, 'bin', 'python')
    here = osp.dirname(osp.abspath(forked_python.__file__))
    with open(shim, 'w') as f:
        f.write(f'#!{real} -IS\nimport sys\nsys.path.insert(0, {here!r})\n'
                f'import forked_python\n'
                f'forked_python.client({sock!r}, {real!r})\n')
    os.chmod(shim, 0o755)
    env['PATH'] = osp.dirname(shim) + os.pathsep + env.get('PATH', '')
    with open(log, 'w') as f:
        server = subprocess.Popen(
            [real, forked_python.__file__, sock, str(TIMEOUT)], cwd=ROOT,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=f)
    start = time.monotonic()
    while (not osp.exists(sock) and server.poll() is None
           and time.monotonic() - start < 300):
        time.sleep(0.1)
    if not osp.exists(sock):  # the real interpreter, as the shim would
        server.kill()
        env['PATH'] = env['PATH'].split(os.pathsep, 1)[1]
        shim = sys.executable
    yield dict(env=env, python=shim, real=real, server_log=log)
    server.stdin.close()  # the server waits for its children, and exits
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory, block_env):
    """A copy of the repository root made of symlinks, with ../shared, and
    the checkpoint that CKPT stands for (2 iterations of the tiny model)."""
    base = tmp_path_factory.mktemp('docs')
    repo = base / 'repo'
    repo.mkdir()
    for name in os.listdir(ROOT):
        if name in ('.git', 'work_dirs', 'vis') or name.startswith('.'):
            continue
        os.symlink(osp.join(ROOT, name), repo / name)
    shared = osp.realpath(osp.join(ROOT, '..', 'shared'))
    if osp.isdir(shared):
        os.symlink(shared, base / 'shared')
    proc = _run('bash', 'python tools/overfit_tiny.py --iters 2 '
                '--input-size 128 --min-ap 0 '
                '--work-dir work_dirs/overfit_tiny', str(repo), block_env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert osp.isfile(repo / CKPT)
    return str(repo)


def test_every_page_is_covered():
    """Pages in subfolders of docs/ too (docs/datasets/)."""
    pages = {osp.relpath(osp.join(d, f), ROOT)
             for d, _, files in os.walk(osp.join(ROOT, 'docs'))
             for f in files if f.endswith('.md')}
    assert 'docs/datasets/custom.md' in pages
    assert pages <= set(DOCS)
    assert {'docs/datasets/custom.md', 'docs/datasets/coco.md'} <= {
        b[0] for b in BLOCKS}


#: bash lines run with the shim and with the real interpreter, in a fresh
#: folder: the same output and exit status
SHIM_CASES = [
    'python -c "import sys; print(sys.argv, repr(sys.path[0])); exit(3)" a b',
    'mkdir sub && printf "import sys\\nprint(__name__, __file__, sys.path[0],'
    ' sys.argv)\\nsys.exit(\'bye\')\\n" > s.py && cd sub && python ../s.py x',
    "python - y <<'EOF'\nimport os, sys\nprint(sys.argv, os.getcwd(), "
    "repr(sys.path[0]))\ndef f():\n    raise ValueError('boom')\nf()\nEOF",
    'python -c "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"',
    'python -c "import atexit, threading; atexit.register(print, 1); '
    'threading.Thread(target=print, args=(2, )).start(); '
    'open(\'f.txt\', \'w\').write(\'left open\')" && cat f.txt',
    'python -c "print(1"',
    'echo "print(input())" > s.py && echo in | python s.py',
    'python -I -c "print(\'not served\')"',  # an option: the real python
]


def test_python_shim_runs_as_python(block_env, tmp_path):
    """The blocks' ``python`` (a child forked from a pre-imported server)
    prints and exits as the real interpreter: argv, ``sys.path[0]``,
    ``__file__``, tracebacks, signals, threads, atexit, files left open."""
    code = 'import sys; print("torch" in sys.modules)'  # False if fresh
    served = subprocess.run(
        [block_env['python'], '-c', code],
        env=block_env['env'], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL)
    assert served.stdout == 'True\n', (
        'the fork server did not serve: ' + served.stderr
        + open(block_env['server_log']).read()[-3000:])
    real_env = dict(block_env['env'],
                    PATH=block_env['env']['PATH'].split(os.pathsep, 1)[1])
    for case in SHIM_CASES:
        runs = []
        for env in (block_env['env'], real_env):
            shutil.rmtree(tmp_path)
            tmp_path.mkdir()
            proc = subprocess.run(['bash', '-c', case], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
            runs.append((proc.returncode, proc.stdout, proc.stderr))
        assert runs[0] == runs[1], f'{case}\nshim: {runs[0]}\nreal: {runs[1]}'


def test_every_fenced_block_has_a_language():
    """So that none escapes this test by accident."""
    bare = [(doc, line) for doc, line, lang, _, skip in _blocks()
            if not lang and skip is None]
    assert not bare, f'blocks without a language (use ```text): {bare}'


@pytest.mark.parametrize('doc,line,lang,code,skip', BLOCKS,
                         ids=[f'{b[0]}:{b[1]}' for b in BLOCKS])
def test_doc_block_runs(doc, line, lang, code, skip, workspace, block_env):
    if skip is not None:
        pytest.skip(f'not run: {skip}')
    code = _substitute(code, lang)
    proc = _run(lang, code, workspace, block_env)
    assert proc.returncode == 0, (
        f'{doc}:{line} failed (rc {proc.returncode}):\n{code}\n--- stdout\n'
        f'{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-3000:]}')
