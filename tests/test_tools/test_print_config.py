"""Tests of tools/analysis_tools/print_config.py."""

import runpy
from pathlib import Path

from mmengine.config import Config

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
