"""Tests of tools/analysis_tools/print_config.py."""

import runpy
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from segtools.errors import ConfigError

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'print_config.py'
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'


def main(argv):
    return runpy.run_path(str(TOOL))['main'](argv)


def test_prints_merged_config_and_saves_it(tmp_path, capsys):
    out = tmp_path / 'merged.py'
    assert main([str(DEMO), '--cfg-options', 'train_cfg.max_iters=7', '--save-path', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'BrainAtlasDataset' in printed and 'max_iters=7' in printed  # the _base_ chain is merged
    saved = Config.fromfile(out)
    assert saved.train_cfg.max_iters == 7 and saved.model.type == 'EncoderDecoder'
    assert not list(tmp_path.glob('*.tmp*'))


def test_missing_config_and_bad_suffix_are_refused(tmp_path, capsys):
    assert main([str(tmp_path / 'nope.py')]) == 2
    assert 'nope.py' in capsys.readouterr().err
    assert main([str(DEMO), '--save-path', str(tmp_path / 'out.txt')]) == 2
    assert 'out.txt' in capsys.readouterr().err


def test_misspelt_key_is_refused_and_a_new_key_takes_a_plus(capsys):
    with pytest.raises(ConfigError, match=r"no key 'max_iter' in 'train_cfg'; did you mean 'train_cfg.max_iters'\?"):
        main([str(DEMO), '--cfg-options', 'train_cfg.max_iter=7'])
    assert main([str(DEMO), '--cfg-options', '+train_cfg.note=hello', 'crop_size=(96,96)']) == 0
    printed = capsys.readouterr().out
    assert "note='hello'" in printed and 'crop_size = (\n    96,\n    96,\n)' in printed


def test_command_line_error_exits_2_without_traceback():
    cmd = [sys.executable, str(TOOL), str(DEMO), '--cfg-options', 'load_fromm=x.pth']
    result = run_command(cmd, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith('print_config.py: error: ConfigError: --cfg-options load_fromm=x.pth')
    assert "did you mean 'load_from'?" in result.stderr and 'Traceback' not in result.stderr
    debug = run_command([*cmd, '--debug'], timeout=120)
    assert debug.returncode == 2 and 'Traceback (most recent call last)' in debug.stderr
