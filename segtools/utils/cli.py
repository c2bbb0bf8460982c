"""The entry point of the command-line tools: a user's mistake is one line, a bug keeps its traceback.

``run_tool(main)`` runs a tool's ``main(argv)``. A :class:`~segtools.errors.SegtoolsError`
(bad config, dataset, checkpoint, download, conversion) is printed as
``train.py: error: DatasetNotFoundError: <message>`` on stderr and the tool exits with status
2, as argparse does for a usage error. ``--debug`` anywhere on the command line, or
``SEGTOOLS_DEBUG=1`` in the environment, prints the traceback too. Any other exception is a
bug: it propagates with its traceback (exit status 1).

Under a distributed launcher every rank usually hits the same error. The ranks on one node
then race to create a marker file named after the message (``O_EXCL``); the winner prints,
the others stay silent, so the user reads the message once. A message only some ranks hit
still prints. ``tools/torchrun.sh`` gives the ranks a fresh folder for the markers
(:data:`ERROR_DIR_ENV`); without it the markers go to the temp dir, keyed by the launch.

This module imports only the standard library and :mod:`segtools.errors`.
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from segtools.errors import SegtoolsError

DEBUG_FLAG = '--debug'
DEBUG_ENV = 'SEGTOOLS_DEBUG'
#: A folder shared by the ranks of one launch for the "already reported" markers.
ERROR_DIR_ENV = 'SEGTOOLS_ERROR_DIR'
#: The exit status of a user error (argparse's usage errors exit with it too).
USER_ERROR_STATUS = 2
# How long a rank that lost the race waits for the winner to finish printing: the launcher
# stops every rank once one exits, and must not stop the winner mid-message.
_REPORT_WAIT_S = 5.0


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """Documents ``--debug`` in a tool's ``--help`` (:func:`run_tool` acts on it)."""
    parser.add_argument(
        DEBUG_FLAG,
        action='store_true',
        help=f'print the traceback of config, dataset and checkpoint errors too (or set {DEBUG_ENV}=1)',
    )


def debug_requested(argv: Sequence[str]) -> bool:
    """Whether ``--debug`` is among ``argv`` or ``SEGTOOLS_DEBUG`` is set (not ``0``/``false``)."""
    env = os.environ.get(DEBUG_ENV, '').strip().lower()
    return DEBUG_FLAG in argv or env not in ('', '0', 'false', 'no', 'off')


def run_tool(
    main: Callable[[list[str]], Any], argv: Sequence[str] | None = None, *, prog: str | None = None
) -> NoReturn:
    """Runs ``main(argv)`` and exits: 0, ``main``'s int result, or 2 for a user error.

    Args:
        main: The tool's ``main``; takes the argument list (without ``--debug``, which this
            wrapper consumes) and returns an exit status, or anything else for 0.
        argv: The arguments; ``sys.argv[1:]`` by default.
        prog: The tool's name in messages; the basename of ``sys.argv[0]`` by default.

    Raises:
        SystemExit: Always, with the status above.
        Exception: Whatever ``main`` raises that is not a :class:`SegtoolsError` (a bug),
            unchanged, so Python prints its traceback and exits with status 1.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0])
    debug = debug_requested(argv)
    try:
        result = main([arg for arg in argv if arg != DEBUG_FLAG])
    except SegtoolsError as error:
        sys.stdout.flush()
        if debug:
            traceback.print_exc()  # its last line is the message
        else:
            report_once(format_error(prog, error))
        sys.exit(USER_ERROR_STATUS)
    sys.exit(result if isinstance(result, int) and not isinstance(result, bool) else 0)


def format_error(prog: str, error: BaseException) -> str:
    """``prog: error: ErrorClass: message`` (the class says which kind of input is at fault)."""
    return f'{prog}: error: {type(error).__name__}: {error}'


def report_once(message: str) -> bool:
    """Prints ``message`` to stderr unless another rank of this launch on this node already did.

    Outside a multi-process launch (``WORLD_SIZE``, srun's ``SLURM_NTASKS`` or mpirun's
    ``OMPI_COMM_WORLD_SIZE`` unset or 1) it always prints.

    Returns:
        Whether this process printed it.
    """
    marker = _marker_path(message)
    if marker is None:
        print(message, file=sys.stderr, flush=True)
        return True
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        _wait_until_written(marker)
        return False
    except OSError:  # no shared folder to coordinate in: better twice than never
        print(message, file=sys.stderr, flush=True)
        return True
    try:
        print(message, file=sys.stderr, flush=True)
        os.write(fd, b'reported\n')  # tells the others the message is out
    finally:
        os.close(fd)
    return True


def _marker_path(message: str) -> str | None:
    """The marker file of ``message`` in this launch, or ``None`` when there is one process."""
    if _launched_world_size() <= 1:
        return None
    digest = hashlib.sha256(message.encode()).hexdigest()[:24]
    folder = os.environ.get(ERROR_DIR_ENV)
    if folder:
        return os.path.join(folder, f'error-{digest}')
    # Without the launcher's folder: the ranks of one launch on one node share these values
    # (the parent is torchrun's agent or slurmstepd), the next launch differs in at least one.
    launch = '|'.join(
        os.environ.get(name, '')
        for name in (
            'TORCHELASTIC_RUN_ID',
            'TORCHELASTIC_RESTART_COUNT',
            'MASTER_PORT',
            'SLURM_JOB_ID',
            'SLURM_STEP_ID',
        )
    )
    launch_digest = hashlib.sha256(f'{launch}|{os.getppid()}'.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f'segtools-error-{launch_digest}-{digest}')


def _launched_world_size() -> int:
    """The process count of the launch (torchrun, srun or mpirun), known before any process group."""
    for name, rank in (('WORLD_SIZE', None), ('SLURM_NTASKS', 'SLURM_PROCID'), ('OMPI_COMM_WORLD_SIZE', None)):
        value = os.environ.get(name, '')
        # SLURM_NTASKS alone is also set for a plain `python` inside a multi-task allocation.
        if value.isdigit() and (rank is None or rank in os.environ):
            return int(value)
    return 1


def _wait_until_written(marker: str) -> None:
    """Waits (bounded) until the winner of the race has printed and written its marker."""
    deadline = time.monotonic() + _REPORT_WAIT_S
    while time.monotonic() < deadline:
        try:
            if os.path.getsize(marker) > 0:
                return
        except OSError:
            return
        time.sleep(0.02)


__all__ = [
    'DEBUG_ENV',
    'DEBUG_FLAG',
    'ERROR_DIR_ENV',
    'USER_ERROR_STATUS',
    'add_debug_argument',
    'debug_requested',
    'format_error',
    'report_once',
    'run_tool',
]
