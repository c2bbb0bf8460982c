"""segtools.utils.torchrun: a failed rank ends in one summary line with the rank's exit status."""

import os

import pytest
from torch.distributed import run as torch_run
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

from segtools.utils import torchrun
from segtools.utils.cli import ERROR_DIR_ENV


def _failure(local_rank: int, exitcode: int, timestamp: int) -> ProcessFailure:
    failure = ProcessFailure(local_rank=local_rank, pid=1000 + local_rank, exitcode=exitcode, error_file='<N/A>')
    failure.timestamp = timestamp
    return failure


def test_root_failure_prefers_the_rank_that_exited_by_itself():
    # torchrun SIGTERMs the survivors in the same second; the SIGTERM is not the cause.
    failures = {0: _failure(0, -15, 100), 1: _failure(1, 2, 100)}
    assert torchrun.root_failure(failures) == (1, 2)
    assert torchrun.root_failure({0: _failure(0, 1, 101), 1: _failure(1, 2, 100)}) == (1, 2)
    assert torchrun.root_failure({3: _failure(1, -9, 100)}) == (3, -9)
    # A rank that aborted (SIGABRT) is the cause, not the one torchrun then stopped.
    assert torchrun.root_failure({0: _failure(0, -15, 100), 1: _failure(1, -6, 100)}) == (1, -6)


def test_summary_line():
    assert torchrun.summary_line('train.py', 1, 2) == 'train.py: rank 1 exited with status 2 (its error is above)'
    assert torchrun.summary_line('train.py', 0, -9) == 'train.py: rank 0 was killed by SIGKILL'


@pytest.mark.parametrize(('exitcode', 'status'), [(2, 2), (1, 1), (-15, 143)])
def test_child_failure_is_one_line_and_the_childs_status(capsys, monkeypatch, exitcode, status):
    monkeypatch.delenv('SEGTOOLS_DEBUG', raising=False)
    monkeypatch.delenv(ERROR_DIR_ENV, raising=False)
    seen = {}

    def fake_main(argv):
        seen['argv'], seen['dir'] = argv, os.environ[ERROR_DIR_ENV]
        assert os.path.isdir(seen['dir'])  # the ranks inherit it
        raise ChildFailedError('/repo/tools/train.py', {1: _failure(1, exitcode, 100)})

    monkeypatch.setattr(torch_run, 'main', fake_main)
    assert torchrun.main(['--nproc_per_node=2', 'tools/train.py', 'cfg.py']) == status
    assert seen['argv'] == ['--nproc_per_node=2', 'tools/train.py', 'cfg.py']
    assert not os.path.exists(seen['dir']) and ERROR_DIR_ENV not in os.environ
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('train.py: rank 1 ')
    assert 'Traceback' not in err and 'ChildFailedError' not in err


def test_debug_keeps_torchruns_report(capsys, monkeypatch):
    def fake_main(argv):
        raise ChildFailedError('/repo/tools/train.py', {0: _failure(0, 2, 100)})

    monkeypatch.setattr(torch_run, 'main', fake_main)
    assert torchrun.main(['tools/train.py', 'cfg.py', '--debug']) == 2
    err = capsys.readouterr().err
    assert 'ChildFailedError' in err and 'Root Cause' in err
    assert err.rstrip().endswith('train.py: rank 0 exited with status 2 (its error is above)')


def test_success_is_status_0(monkeypatch):
    monkeypatch.setattr(torch_run, 'main', lambda argv: None)
    assert torchrun.main(['tools/train.py']) == 0
