"""tools/analysis_tools/benchmark.py on the demo config (a few images, CPU)."""

import argparse
import json
import runpy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segtools.weights import UnsafeCheckpointError

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'benchmark.py'
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'
LOADER = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(str(TOOL))


def test_fps_per_repeat_and_json(tool, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the config's data_root is relative to the repository root
    argv = [str(DEMO), '--num-iters', '3', '--num-warmup', '1', '--log-interval', '1', '--repeat-times', '2']
    result = tool['main']([*argv, '--work-dir', str(tmp_path), '--cfg-options', *LOADER])
    printed = capsys.readouterr().out
    assert 'random initial weights' in printed
    assert len(result['fps_list']) == 2 and all(fps > 0 for fps in result['fps_list'])
    assert result['average_fps'] == pytest.approx(sum(result['fps_list']) / 2)
    assert result['device'] == 'cpu' and result['checkpoint'] is None
    assert printed.count('Done image [') == 2 * 2  # images 2 and 3 of each repeat are timed
    (written,) = tmp_path.glob('fps_*.json')
    assert json.loads(written.read_text()) == result
    assert not list(tmp_path.glob('.tmp_*'))


def test_checkpoint_weights_are_loaded_safely(tool, tmp_path):
    tool['register_all_modules']()
    tool['setup_safe_checkpointing']()
    cfg = Config.fromfile(DEMO)
    source = tool['build_model'](cfg, None, torch.device('cpu'))
    with torch.no_grad():
        source.decode_head.conv_seg.weight.fill_(0.25)
    checkpoint = tmp_path / 'weights.pth'
    torch.save({'meta': {'iter': 1}, 'state_dict': source.state_dict()}, checkpoint)

    model = tool['build_model'](cfg, str(checkpoint), torch.device('cpu'))
    assert not model.training
    assert torch.equal(model.decode_head.conv_seg.weight, source.decode_head.conv_seg.weight)

    unsafe = tmp_path / 'unsafe.pth'
    torch.save({'state_dict': source.state_dict(), 'args': argparse.Namespace(lr=0.1)}, unsafe)
    with pytest.raises(UnsafeCheckpointError):
        tool['build_model'](cfg, str(unsafe), torch.device('cpu'))


def test_bad_arguments_are_refused(tool, tmp_path, capsys):
    with pytest.raises(SystemExit):
        tool['main']([str(DEMO), '--num-iters', '3', '--num-warmup', '3'])
    assert '--num-warmup' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool['main']([str(DEMO), str(tmp_path / 'missing.pth')])
    assert 'missing.pth' in capsys.readouterr().err
