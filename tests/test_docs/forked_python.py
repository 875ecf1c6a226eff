"""A ``python`` for the docs blocks, forked from a pre-imported server
(tests/test_docs/test_docs_blocks.py says why and how it is used).

The shim (:func:`client`) passes argv, working directory, environment and
stdin/stdout/stderr to :func:`serve`, whose waiter forks the child and sends
back its exit status or signal; the shim exits with it. Whatever the child
cannot run as a fresh interpreter would (:func:`_refusal`) runs in the real
interpreter. Only the standard library at the top: the shim runs ``-IS``.
"""
import atexit
import builtins
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import types
from contextlib import suppress

PRELOAD = ('torch', 'mmengine', 'mmcv', 'cv2', 'mmpose', 'mmpose.apis',
           'mmpose.evaluation')
#: environment variables that may differ from the server's: bash's own and
#: pytest's current test name (none is read at interpreter start-up)
VOLATILE_ENV = {'_', 'SHLVL', 'PWD', 'OLDPWD', 'PYTEST_CURRENT_TEST'}
#: the server's environment before the imports (which set some variables)
START_ENV = dict(os.environ)


def client(sock_path: str, python: str) -> None:
    """The shim: ``sys.argv[1:]`` run by the server at ``sock_path``, or
    by ``python`` when it is not served."""
    argv, reply = sys.argv[1:], b''
    with suppress(Exception):  # any failure before the child starts: exec
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.settimeout(10)
        sock.connect(sock_path)
        sock.settimeout(None)  # once sent, no timeout: never run it twice
        socket.send_fds(sock, [json.dumps(dict(
            argv=argv, cwd=os.getcwd(), env=dict(os.environ))).encode()],
            [0, 1, 2])
        reply = sock.recv(16)
    if reply != b'S':  # refused, or no server: the real interpreter
        os.execv(python, [python] + argv)
    status = int(sock.recv(16) or 1)  # empty: the waiter went away
    if status < 0:  # killed by a signal: die of the same one
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    os._exit(status)


def _refusal(req, fds):
    """Why the request goes to the real interpreter (None: served): other
    options, no such script, a terminal, another environment than the
    server's, a module of the script's folder imported by the server."""
    argv, env, cwd = req['argv'], req['env'], req['cwd']
    script = argv[0] if argv and not argv[0].startswith('-') else None
    if not (script or argv[:1] == ['-'] or argv[:1] == ['-c'] and argv[1:]):
        return 'options'
    if script and not os.path.isfile(os.path.join(cwd, script)):
        return 'no such script'  # the interpreter's own message
    if len(fds) != 3 or any(os.isatty(fd) for fd in fds):
        return 'a terminal'
    diff = {k for k in set(env) | set(START_ENV)
            if env.get(k) != START_ENV.get(k)} - VOLATILE_ENV
    if diff:
        return f'environment {sorted(diff)}'
    # the folder a fresh interpreter puts first on sys.path (its real path)
    path0 = req['path0'] = os.path.dirname(os.path.realpath(os.path.join(
        cwd, script))) if script else cwd
    for name in os.listdir(path0):
        mod = sys.modules.get(name[:-3] if name.endswith('.py') else name)
        if mod is not None and not os.path.realpath(getattr(
                mod, '__file__', None) or '/').startswith(path0 + os.sep):
            return f'{name} of {path0} is imported in the server'
    return None


def _child(req, fds):
    """Run the request as a fresh interpreter would (argv, sys.path[0],
    ``__main__``, traceback, status) and exit as it does (threads joined,
    atexit, open files closed, stdio flushed), freeing nothing else."""
    os.setpgid(0, 0)
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
        os.close(fd)
    os.chdir(req['cwd'])
    for key in VOLATILE_ENV:  # the rest as the imports left it
        os.environ.pop(key, None)
        if key in req['env']:
            os.environ[key] = req['env'][key]
    argv = req['argv']
    sys.path[0] = '' if argv[0] in ('-c', '-') else req['path0']
    if 'numpy' in sys.modules:  # as fresh: seeded from the OS
        sys.modules['numpy'].random.seed()
    main = sys.modules['__main__'] = types.ModuleType('__main__')
    main.__builtins__ = builtins
    if argv[0] == '-c':
        source, filename, sys.argv = argv[1], '<string>', ['-c'] + argv[2:]
    elif argv[0] == '-':
        source, filename, sys.argv = sys.stdin.buffer.read(), '<stdin>', argv
    else:
        filename = main.__file__ = os.path.join(req['cwd'], argv[0])
        main.__cached__ = None
        with open(filename, 'rb') as f:
            source = f.read()
        sys.argv = argv
    try:
        exec(compile(source, filename, 'exec'), main.__dict__)
        status = 0
    except SystemExit as e:  # None, a status or a message
        status = 0 if e.code is None else e.code
        if not isinstance(status, int):
            print(status, file=sys.stderr)
            status = 1
    except BaseException as e:  # noqa: B036 - printed as python does
        tb = e.__traceback__.tb_next  # without this frame
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        status = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    main.__dict__.clear()
    gc.collect()  # the objects made here (the server's are frozen)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        status = 120
    os._exit(status)


def _wait(conn, fds, req, timeout):
    """The waiter: fork the child, send its status to the shim; kill it
    when the shim goes away or after ``timeout`` seconds."""
    pid = os.fork()
    if pid == 0:
        try:
            conn.close()
            _child(req, fds)
        finally:
            os._exit(1)  # an error of this module (_child exits itself)
    with suppress(OSError):  # its own group (unless it did it already)
        os.setpgid(pid, pid)
    for fd in fds:
        os.close(fd)
    conn.sendall(b'S')
    pidfd = os.pidfd_open(pid)
    if pidfd not in select.select([conn, pidfd], [], [], timeout)[0]:
        with suppress(ProcessLookupError):  # the shim died, or the timeout
            os.killpg(pid, signal.SIGKILL)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    conn.sendall(str(status).encode())


def _reap(flags=os.WNOHANG):
    with suppress(ChildProcessError):
        while os.waitpid(-1, flags)[0]:
            continue


def serve(sock_path: str, timeout: float) -> None:
    """Import :data:`PRELOAD` (not ``mmpose_boir``: a block that forgets the
    plugin must fail) and run no torch op (no OpenMP threads: forking is
    safe); serve at ``sock_path`` until stdin closes. The waiters are
    reaped: their CPU time counts as this process's children's."""
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() + len(os.listdir('/proc/self/task')) != 2:
        sys.exit('forked python: the imports started threads; not forking')
    os.close(os.pidfd_open(os.getpid()))  # Linux 5.3, Python 3.9, or exit
    gc.freeze()  # the children's collections skip (and do not copy) these
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(sock_path + '.tmp')
    listener.listen(16)
    os.rename(sock_path + '.tmp', sock_path)  # ready
    while sys.stdin not in select.select([listener, sys.stdin], [], [])[0]:
        conn, fds, req = listener.accept()[0], [], {}
        conn.settimeout(10)
        try:
            data, fds = socket.recv_fds(conn, 1 << 20, 3)[:2]
            req = json.loads(data)
            why = _refusal(req, fds)
        except (OSError, ValueError) as e:
            why = repr(e)
        if why is not None:
            sys.stderr.write(f'forked python: {why}: {req.get("argv")}\n')
            with suppress(OSError):
                conn.sendall(b'F')
        elif os.fork() == 0:
            try:
                listener.close()
                _wait(conn, fds, req, timeout)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        conn.close()
        _reap()
    _reap(0)  # EOF: wait for the waiters still running


if __name__ == '__main__':
    serve(sys.argv[1], float(sys.argv[2]))
