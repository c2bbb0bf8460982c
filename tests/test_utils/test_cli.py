"""segtools.utils.cli: user errors as one line with status 2, bugs with their traceback."""

import argparse
import tempfile

import pytest

from segtools.datasets.validation import DatasetError, DatasetNotFoundError
from segtools.errors import CheckpointError, ConfigError, SegtoolsError
from segtools.utils import cli
from segtools.utils.cli import add_debug_argument, report_once, run_tool
from segtools.weights.converters.common import ConversionError
from segtools.weights.download import DownloadError
from segtools.weights.loading import CorruptCheckpointError, UnsafeCheckpointError


@pytest.fixture(autouse=True)
def _one_process(monkeypatch):
    names = ('SEGTOOLS_DEBUG', 'WORLD_SIZE', 'SEGTOOLS_ERROR_DIR', 'MASTER_PORT', 'TORCHELASTIC_RUN_ID')
    for name in (*names, 'SLURM_NTASKS', 'SLURM_PROCID', 'SLURM_JOB_ID', 'SLURM_STEP_ID', 'OMPI_COMM_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)


def _raises(error: BaseException):
    def main(argv: list[str]) -> None:
        raise error

    return main


def _exit_status(main, argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        run_tool(main, argv, prog='tool.py')
    return info.value.code


@pytest.mark.parametrize(
    'error',
    [
        ConfigError('--cfg-options load_fromm=x: no key'),
        DatasetError('ds: bad label'),
        DatasetNotFoundError('ds: folder missing'),
        CheckpointError('ckpt: no'),
        UnsafeCheckpointError('ckpt: unsafe'),
        CorruptCheckpointError('ckpt: truncated'),
        DownloadError('every URL failed'),
        ConversionError('no rule'),
    ],
    ids=lambda error: type(error).__name__,
)
def test_user_errors_print_one_message_and_exit_2(capsys, error):
    assert isinstance(error, SegtoolsError)
    assert _exit_status(_raises(error), []) == 2
    captured = capsys.readouterr()
    assert captured.err == f'tool.py: error: {type(error).__name__}: {error}\n'
    assert captured.out == ''


def test_debug_flag_shows_the_traceback_and_is_not_passed_on(capsys):
    seen = []

    def main(argv):
        seen.append(argv)
        raise ConfigError('bad key')

    assert _exit_status(main, ['config.py', '--debug', '--seed', '1']) == 2
    assert seen == [['config.py', '--seed', '1']]
    err = capsys.readouterr().err
    assert err.startswith('Traceback (most recent call last):') and 'segtools.errors.ConfigError: bad key' in err


@pytest.mark.parametrize(('value', 'traceback'), [('1', True), ('true', True), ('0', False), ('', False)])
def test_debug_environment_variable(capsys, monkeypatch, value, traceback):
    monkeypatch.setenv('SEGTOOLS_DEBUG', value)
    assert _exit_status(_raises(ConfigError('bad key')), []) == 2
    assert ('Traceback' in capsys.readouterr().err) is traceback


def test_bugs_keep_their_traceback():
    # Not handled: Python prints the traceback and exits with status 1.
    with pytest.raises(ZeroDivisionError):
        run_tool(_raises(ZeroDivisionError('a bug')), [], prog='tool.py')


def test_exit_status_is_the_int_main_returns(capsys):
    assert _exit_status(lambda argv: 3, []) == 3
    assert _exit_status(lambda argv: None, []) == 0
    assert _exit_status(lambda argv: {'mIoU': 1.0}, []) == 0
    assert _exit_status(lambda argv: True, []) == 0  # a bool is a result, not a status


def test_usage_errors_keep_argparse_status_2(capsys):
    def main(argv):
        parser = argparse.ArgumentParser(prog='tool.py')
        parser.add_argument('--seed', type=int)
        add_debug_argument(parser)
        parser.parse_args(argv)

    assert _exit_status(main, ['--seed', 'x']) == 2
    assert "argument --seed: invalid int value: 'x'" in capsys.readouterr().err
    assert _exit_status(main, ['--debug']) == 0


def test_ranks_of_one_launch_print_a_shared_error_once(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('SEGTOOLS_ERROR_DIR', str(tmp_path))
    assert report_once('train.py: error: the same') is True
    assert report_once('train.py: error: the same') is False  # another rank already printed it
    assert report_once('train.py: error: only this rank') is True
    assert capsys.readouterr().err == 'train.py: error: the same\ntrain.py: error: only this rank\n'


def test_without_the_launchers_folder_markers_are_keyed_by_the_launch(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('MASTER_PORT', '29500')
    assert report_once('error') is True and report_once('error') is False
    monkeypatch.setenv('MASTER_PORT', '29501')  # a later launch
    assert report_once('error') is True
    assert capsys.readouterr().err == 'error\nerror\n'
    assert len(list(tmp_path.glob('segtools-error-*'))) == 2


def test_srun_tasks_share_markers_but_a_plain_process_in_an_allocation_does_not(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('SEGTOOLS_ERROR_DIR', str(tmp_path))
    monkeypatch.setenv('SLURM_NTASKS', '4')  # `python tools/train.py` inside an sbatch allocation
    assert report_once('error') is True and report_once('error') is True
    monkeypatch.setenv('SLURM_PROCID', '1')  # a task started by srun
    assert report_once('other') is True and report_once('other') is False
    assert capsys.readouterr().err == 'error\nerror\nother\n'


def test_a_single_process_always_prints(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('SEGTOOLS_ERROR_DIR', str(tmp_path))
    assert report_once('error') is True and report_once('error') is True
    assert capsys.readouterr().err == 'error\nerror\n'
    assert not list(tmp_path.iterdir())


def test_a_rank_that_loses_the_race_waits_only_for_the_winner(monkeypatch, tmp_path):
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('SEGTOOLS_ERROR_DIR', str(tmp_path))
    monkeypatch.setattr(cli, '_REPORT_WAIT_S', 0.2)
    marker = cli._marker_path('error')
    open(marker, 'w').close()  # the winner has not printed yet (and never will: bounded wait)
    assert report_once('error') is False
