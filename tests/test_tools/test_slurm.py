"""tools/slurm_train.sh and tools/slurm_test.sh: the srun command line they build (a fake srun records it)."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Records PYTHONPATH, then one argument per line (none of the tested arguments holds a newline).
FAKE_SRUN = """#!/bin/sh
{ printf '%s\\n' "$PYTHONPATH"; printf '%s\\n' "$@"; } > "$SRUN_RECORD"
"""


@pytest.fixture
def fake_srun(tmp_path) -> tuple[dict, Path]:
    """An environment whose PATH starts with a fake ``srun`` writing its argv to the returned file."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / 'srun.txt'
    env = {k: v for k, v in os.environ.items() if k not in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS')}
    env.update(PATH=f'{bin_dir}{os.pathsep}{env["PATH"]}', SRUN_RECORD=str(record), PYTHONPATH='/elsewhere')
    env.pop('PYTHON', None)
    return env, record


def _run(script: str, args: list[str], env: dict) -> subprocess.CompletedProcess:
    # From another folder: the scripts must find the checkout from their own path.
    return subprocess.run(
        ['bash', str(REPO / 'tools' / script), *args], cwd='/', env=env, capture_output=True, text=True, timeout=60
    )


def _python() -> str:
    venv = REPO / '.venv' / 'bin' / 'python'
    return str(venv) if os.access(venv, os.X_OK) else 'python'


def test_train_defaults(fake_srun):
    env, record = fake_srun
    result = _run('slurm_train.sh', ['gpu', 'demo', 'configs/demo/x.py', '--cfg-options', 'a=1 2', '--amp'], env)
    assert result.returncode == 0, result.stderr
    pythonpath, argv = _recorded(record)
    assert argv == [
        '-p', 'gpu', '--job-name=demo', '--gres=gpu:4', '--ntasks=4', '--ntasks-per-node=4', '--cpus-per-task=5',
        '--kill-on-bad-exit=1',
        _python(), '-u', str(REPO / 'tools' / 'train.py'), 'configs/demo/x.py', '--launcher=slurm',
        '--cfg-options', 'a=1 2', '--amp',
    ]  # fmt: skip
    assert pythonpath == f'{REPO}:/elsewhere'


def test_test_with_environment(fake_srun):
    env, record = fake_srun
    env.update(GPUS='8', GPUS_PER_NODE='4', CPUS_PER_TASK='2', SRUN_ARGS='--quotatype=auto --time=1:00:00')
    env['PYTHON'] = '/opt/py/bin/python3'
    result = _run('slurm_test.sh', ['part', 'eval', 'cfg.py', 'ckpt.pth', '--out', 'preds'], env)
    assert result.returncode == 0, result.stderr
    assert _recorded(record)[1] == [
        '-p', 'part', '--job-name=eval', '--gres=gpu:4', '--ntasks=8', '--ntasks-per-node=4', '--cpus-per-task=2',
        '--kill-on-bad-exit=1', '--quotatype=auto', '--time=1:00:00',
        '/opt/py/bin/python3', '-u', str(REPO / 'tools' / 'test.py'), 'cfg.py', 'ckpt.pth', '--launcher=slurm',
        '--out', 'preds',
    ]  # fmt: skip


def test_fewer_gpus_than_a_node(fake_srun):
    env, record = fake_srun
    env['GPUS'] = '2'
    assert _run('slurm_train.sh', ['p', 'j', 'c.py'], env).returncode == 0
    argv = _recorded(record)[1]
    assert '--ntasks=2' in argv and '--ntasks-per-node=2' in argv and '--gres=gpu:2' in argv


@pytest.mark.parametrize(('script', 'args'), [('slurm_train.sh', ['p', 'j']), ('slurm_test.sh', ['p', 'j', 'c.py'])])
def test_missing_arguments_print_usage(fake_srun, script, args):
    env, record = fake_srun
    result = _run(script, args, env)
    assert result.returncode == 2
    assert result.stderr.startswith('usage:') and 'PARTITION JOB_NAME CONFIG' in result.stderr
    assert not record.exists()  # srun never ran


def _recorded(record: Path) -> tuple[str, list[str]]:
    """``(PYTHONPATH, argv)`` seen by the fake srun."""
    pythonpath, *argv = record.read_text().splitlines()
    return pythonpath, argv
