"""Runs ``python tools/X.py ARGS`` for a test in a fork of the test process instead of a new interpreter.

A new interpreter spends about 3 s on this machine importing torch and ``mmengine.runner`` before a tool
does anything; the suite starts tools about a hundred times. :func:`run_script` forks the pytest
worker, which has them imported already, and runs the script in the child as ``python SCRIPT ARGS``
would: ``runpy`` with ``__name__ == '__main__'``, ``sys.argv`` and ``sys.path[0]`` set as the interpreter
sets them, its own working directory and environment, file descriptors 1 and 2 on pipes, and the exit
status of ``sys.exit`` (1 and a traceback for an uncaught exception). It returns what
``subprocess.run(..., capture_output=True, text=True)`` returns.

The child starts from what a new interpreter would have, not from the test's state: mmengine's global
instances (loggers, message hubs, the default scope the test fixture sets) are dropped, the random
generators are reseeded from the OS, the parent's child processes and multiprocessing finalizers are
forgotten, the parent's objects are frozen out of the cyclic collector (``gc.freeze``), warnings
print to stderr under Python's default filters, and ``sys.path`` is the one a new interpreter
started here would get (with ``PYTHONPATH`` of ``env``). What a fork cannot reproduce is interpreter
start-up and shutdown: the child leaves with ``os._exit`` after running multiprocessing's exit
handler (which terminates the daemonic processes the script started, such as DataLoader workers)
and flushing its streams and log handlers, so the few tests about those (``torchrun``'s own
processes, a process killed mid-write) keep real subprocesses. A process whose torch runs several
threads cannot fork safely (:func:`fork_is_safe`); there :func:`run_script` starts a new interpreter.

The multi-process tests share :func:`start_method` (their ranks are forked by the same rule) and
:func:`free_port`.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing.process
import multiprocessing.util
import os
import random
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot  # noqa: F401  (the visualizer's; these imports are done once here for every child)
import mmengine.runner  # noqa: F401
import numpy as np
import torch
import torch._dynamo  # noqa: F401  (torch.optim imports it on the first optimizer built: 0.8 s)
from mmengine.utils import ManagerMixin

from segtools.utils import register_all_modules

register_all_modules(init_default_scope=False)  # every segtools package, as each tool imports them

# sys.path of a new interpreter started from this venv, without its script directory (index 0).
_BASE_PATH = subprocess.run(
    [sys.executable, '-c', 'import sys; print("\\n".join(sys.path[1:]))'],
    capture_output=True,
    text=True,
    check=True,
    env={key: value for key, value in os.environ.items() if key != 'PYTHONPATH'},
).stdout.splitlines()
# Python's default warning filters (the -W / PYTHONWARNINGS-free ones of a new interpreter).
_DEFAULT_FILTERS = [
    ('default', None, DeprecationWarning, '__main__', 0),
    ('ignore', None, DeprecationWarning, None, 0),
    ('ignore', None, PendingDeprecationWarning, None, 0),
    ('ignore', None, ImportWarning, None, 0),
    ('ignore', None, ResourceWarning, None, 0),
]


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (a rendezvous binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def fork_is_safe() -> bool:
    """Whether a forked child of this process can run torch ops.

    A child forked after torch ran an op on several OpenMP threads hangs in its first parallel op
    (GNU OpenMP keeps the parent's thread team, whose threads the child does not have). With one
    thread (``OMP_NUM_THREADS=1``, as ``make test`` runs the suite) there is no team to inherit.
    """
    return torch.get_num_threads() == 1


def start_method() -> str:
    """``'fork'`` where :func:`fork_is_safe` (milliseconds, not seconds of importing torch again), else ``'spawn'``."""
    return 'fork' if fork_is_safe() else 'spawn'


def _manager_classes(cls: type = ManagerMixin) -> list[type]:
    classes = [cls]
    for sub in cls.__subclasses__():
        classes += _manager_classes(sub)
    return classes


def _fresh_state(script: Path, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None) -> None:
    """In the child: the process state of ``python SCRIPT ARGS`` started in ``cwd`` with ``env``."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  (fds 0-2 live as long as the process)
    sys.stdout = sys.__stdout__ = open(1, 'w', buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = sys.__stderr__ = open(2, 'w', buffering=1, closefd=False)  # noqa: SIM115
    os.chdir(cwd)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    python_path = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]
    sys.path[:] = [str(script.parent), *python_path, *_BASE_PATH]
    sys.argv = [str(script), *args]
    multiprocessing.process._children.clear()  # a new interpreter has started no process yet
    multiprocessing.util._finalizer_registry.clear()
    for cls in _manager_classes():  # MMLogger, MessageHub, DefaultScope, Visualizer, ...
        cls._instance_dict.clear()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    warnings.filters[:] = _DEFAULT_FILTERS
    warnings._filters_mutated()
    warnings.showwarning = warnings._showwarning_orig
    warnings._showwarnmsg_impl = lambda msg: sys.stderr.write(warnings._formatwarnmsg(msg))
    random.seed()
    np.random.seed()
    torch.seed()


def _child(script: Path, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None) -> int:
    """Runs the script as ``__main__`` and returns the exit status the interpreter would."""
    try:
        _fresh_state(script, args, cwd, env)
        runpy.run_path(str(script), run_name='__main__')
        status = 0
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            status = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    # What the interpreter's atexit does: multiprocessing terminates the daemonic processes the
    # script started (DataLoader workers, which hold fds 1 and 2: left alive, they would keep the
    # pipes open until their 5 s watchdog sees this process gone).
    multiprocessing.util._exit_function()
    for ref in logging._handlerList:  # what logging.shutdown would flush at interpreter exit
        handler = ref()
        if handler is not None:
            try:
                handler.flush()
            except (OSError, ValueError):
                pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return status


def run_script(
    script: str | os.PathLike,
    args: Sequence[str] = (),
    *,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` in a fork of this process; see the module docstring.

    Args:
        script: The Python script (e.g. ``tools/test.py``).
        args: Its command-line arguments.
        cwd: Working directory of the run; this process's by default.
        env: The whole environment of the run; this process's by default.
        timeout: Seconds before the run (and its process group) is killed.

    Returns:
        ``CompletedProcess`` with ``args = [sys.executable, script, *args]``, the exit status and
        the decoded stdout and stderr.

    Raises:
        subprocess.TimeoutExpired: The run took longer than ``timeout``.
    """
    script = Path(script).resolve()
    cwd = Path(cwd or os.getcwd()).resolve()
    args = [str(arg) for arg in args]
    if not fork_is_safe():
        cmd = [sys.executable, str(script), *args]
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        status = 1
        try:
            os.setpgid(0, 0)  # its own group, so that a timeout also stops what it started
            os.close(out_read)
            os.close(err_read)
            os.dup2(out_write, 1)
            os.dup2(err_write, 2)
            os.close(out_write)
            os.close(err_write)
            # The test process's objects are not the script's: keep the cyclic collector (which
            # mmengine runs on every dataset build) off the pytest worker's heap.
            gc.freeze()
            status = _child(script, args, cwd, env)
        finally:
            os._exit(status)
    os.close(out_write)
    os.close(err_write)
    chunks = {out_read: [], err_read: []}
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill_group(pid)
                raise subprocess.TimeoutExpired([sys.executable, str(script), *args], timeout)
            for key, _ in selector.select(min(remaining, 1.0)):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
        _, wait_status = os.waitpid(pid, 0)
    finally:
        selector.close()
        os.close(out_read)
        os.close(err_read)
    decode = lambda fd: b''.join(chunks[fd]).decode(errors='replace')  # noqa: E731
    return subprocess.CompletedProcess(
        [sys.executable, str(script), *args], os.waitstatus_to_exitcode(wait_status), decode(out_read), decode(err_read)
    )


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def run_command(
    cmd: Sequence[str | os.PathLike],
    *,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True, ...)``, forked when ``cmd`` runs a script.

    ``[sys.executable, SCRIPT.py, *ARGS]`` goes through :func:`run_script`; anything else (``bash
    tools/dist_train.sh ...``, ``python -c ...``) through ``subprocess.run``.
    """
    cmd = [str(part) for part in cmd]
    if len(cmd) >= 2 and cmd[0] == sys.executable and cmd[1].endswith('.py'):
        return run_script(cmd[1], cmd[2:], cwd=cwd, env=env, timeout=timeout)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
