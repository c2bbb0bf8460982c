"""``torchrun`` for the tools: a failed rank ends in one summary line, not torchrun's error wall.

Plain ``torchrun`` answers a worker that exits non-zero with a log line per rank, a
``ChildFailedError`` traceback and a framed failure report, under which the worker's own
message is easy to miss. :func:`main` runs ``torch.distributed.run.main`` unchanged, but:

* quiets torchrun's per-rank "failed (exitcode ...)" / "sending SIGTERM" log lines;
* on ``ChildFailedError`` prints ``train.py: rank 1 exited with status 2 ...`` and exits with
  that status (128 + N when the rank died from signal N), as the one-process tool would;
* gives the ranks a fresh folder (``SEGTOOLS_ERROR_DIR``) in which
  :func:`segtools.utils.cli.report_once` makes the ranks print an error they share once.

``--debug`` among the arguments or ``SEGTOOLS_DEBUG=1`` keeps torchrun's full output.
Run as ``python -m segtools.utils.torchrun [torchrun args] SCRIPT [script args]``
(``tools/torchrun.sh`` does).
"""

import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence

from segtools.utils.cli import ERROR_DIR_ENV, debug_requested

# The module of torch's elastic launcher that logs each failed worker.
_WORKER_LOGGER = 'torch.distributed.elastic.multiprocessing.api'


def main(argv: Sequence[str]) -> int:
    """Runs torchrun with ``argv``; returns 0 or the exit status of the rank that failed first.

    Args:
        argv: torchrun's command line without the program name.

    Returns:
        The process exit status.
    """
    from torch.distributed import run as torch_run
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    argv = list(argv)
    debug = debug_requested(argv)
    if not debug:
        logging.getLogger(_WORKER_LOGGER).setLevel(logging.CRITICAL)
    previous = os.environ.get(ERROR_DIR_ENV)
    with tempfile.TemporaryDirectory(prefix='segtools-errors-') as error_dir:
        os.environ[ERROR_DIR_ENV] = error_dir  # the workers inherit the agent's environment
        try:
            torch_run.main(argv)
        except ChildFailedError as error:
            if debug:
                traceback.print_exc()
            rank, exitcode = root_failure(error.failures)
            print(summary_line(os.path.basename(error.name), rank, exitcode), file=sys.stderr, flush=True)
            return exitcode if exitcode > 0 else 128 - exitcode
        finally:
            if previous is None:
                os.environ.pop(ERROR_DIR_ENV, None)
            else:
                os.environ[ERROR_DIR_ENV] = previous
    return 0


def root_failure(failures: dict) -> tuple[int, int]:
    """The rank that failed by itself, and its exit code (negative: killed by that signal).

    torchrun stops the other ranks with SIGTERM once one fails, and its timestamps have a
    resolution of one second; so a rank that exited with a status is the cause before one
    that was killed, one killed by another signal (SIGABRT, SIGKILL, SIGSEGV) before one that
    torchrun's SIGTERM stopped, then the earliest, then the lowest rank.

    Args:
        failures: ``global rank -> ProcessFailure`` of a ``ChildFailedError``.
    """
    stopped = -int(signal.SIGTERM)
    rank = min(
        failures,
        key=lambda r: (failures[r].exitcode <= 0, failures[r].exitcode == stopped, failures[r].timestamp, r),
    )
    return rank, failures[rank].exitcode


def summary_line(script: str, rank: int, exitcode: int) -> str:
    """``train.py: rank 1 exited with status 2 (its error is above)``, or ``... was killed by SIGKILL``."""
    if exitcode < 0:
        try:
            how = f'was killed by {signal.Signals(-exitcode).name}'
        except ValueError:
            how = f'was killed by signal {-exitcode}'
    else:
        how = f'exited with status {exitcode} (its error is above)'
    return f'{script}: rank {rank} {how}'


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
