"""tools/analysis_tools/get_flops.py on the demo config."""

import re
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'get_flops.py'
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(str(TOOL))


def test_counts_flops_and_all_parameters(tool, capsys):
    info = tool['main']([str(DEMO), '--shape', '32', '48'])
    printed = capsys.readouterr().out
    assert info['input_shape'] == (1, 3, 32, 48)
    assert 'Input shape: (1, 3, 32, 48)' in printed and f'({info["params"]})' in printed

    model = tool['build_model'](tool['Config'].fromfile(DEMO))
    assert info['params'] == sum(p.numel() for p in model.parameters()) > 0
    assert info['flops'] > 0
    # Convolutions dominate: the count grows with the pixel count (4x the pixels -> about 4x).
    bigger = tool['count'](model, (64, 96))
    assert bigger['flops'] == pytest.approx(4 * info['flops'], rel=0.05)


def test_square_shape_verbose_table_and_cfg_options(tool, capsys):
    info = tool['main']([str(DEMO), '--shape', '32', '--verbose', '--cfg-options', 'model.decode_head.num_classes=3'])
    printed = capsys.readouterr().out
    assert info['input_shape'] == (1, 3, 32, 32)
    assert re.search(r'\|\s+decode_head\s+\|', printed)  # a row of the per-module table
    # The override reached the model: conv_seg (1x1, 64 channels in) lost 12 - 3 = 9 outputs.
    default = tool['count'](tool['build_model'](tool['Config'].fromfile(DEMO)), (32, 32))
    assert default['params'] - info['params'] == 9 * (64 + 1)


def test_bad_shape_is_refused(tool, capsys):
    with pytest.raises(SystemExit):
        tool['main']([str(DEMO), '--shape', '1', '2', '3'])
    assert '--shape' in capsys.readouterr().err
