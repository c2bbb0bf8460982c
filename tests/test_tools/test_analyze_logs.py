"""tools/analysis_tools/analyze_logs.py on synthetic mmengine scalars.json logs."""

import json
import os
import runpy
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'analyze_logs.py'


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(str(TOOL))


def _write_log(path: Path, losses: list[float], mious: dict[int, float]) -> Path:
    """A scalars.json as mmengine writes it: training lines every 10 iters, validation lines at ``mious``."""
    lines = []
    for i, loss in enumerate(losses, start=1):
        it = 10 * i
        lines.append({'lr': 0.01, 'data_time': 0.01, 'loss': loss, 'decode.loss_ce': loss, 'time': 0.5, 'iter': it,
                      'step': it})  # fmt: skip
        if it in mious:
            lines.append({'aAcc': 90.0, 'mIoU': mious[it], 'mAcc': 60.0, 'data_time': 0.0, 'time': 0.2, 'step': it})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))
    return path


def test_plots_png_and_prints_summary(tool, tmp_path, capsys):
    first = _write_log(tmp_path / 'a' / 'scalars.json', [2.0, 1.5, 1.2, 1.1], {20: 30.0, 40: 28.0})
    # A work dir: the newest of its runs is used.
    old = _write_log(tmp_path / 'wd' / '20240101_000000' / 'vis_data' / 'scalars.json', [9.0], {})
    second = _write_log(tmp_path / 'wd' / '20240102_000000' / 'vis_data' / 'scalars.json', [3.0, 2.5], {20: 12.5})
    os.utime(old, (1, 1))
    out = tmp_path / 'plots' / 'curves.png'

    curves = tool['main'](
        [str(first), str(tmp_path / 'wd'), '--legend', 'A', 'B', '--title', 'demo', '--out', str(out)]
    )
    printed = capsys.readouterr().out

    assert list(curves) == [str(first), str(second)]
    assert curves[str(first)]['loss'] == ([10, 20, 30, 40], [2.0, 1.5, 1.2, 1.1])
    assert curves[str(first)]['mIoU'] == ([20, 40], [30.0, 28.0])
    assert curves[str(second)]['mIoU'] == ([20], [12.5])
    assert 'loss: last 1.1000 at iter 40' in printed
    assert 'mIoU: best 30.0000 at iter 20' in printed and 'mIoU: best 12.5000 at iter 20' in printed

    image = cv2.imread(str(out))
    assert image is not None and image.ndim == 3 and min(image.shape[:2]) > 100
    assert image.std() > 0  # something was drawn
    assert sorted(p.name for p in out.parent.iterdir()) == ['curves.png']  # no temporary file left


def test_time_key_uses_training_lines(tool, tmp_path, capsys):
    log = _write_log(tmp_path / 'scalars.json', [1.0, 0.5], {20: 10.0})
    curves = tool['main']([str(log), '--keys', 'time'])
    assert curves[str(log)]['time'] == ([10, 20], [0.5, 0.5])  # not the validation lines' 0.2


def test_missing_key_names_it_and_lists_present(tool, tmp_path):
    log = _write_log(tmp_path / 'scalars.json', [1.0], {})
    with pytest.raises(ValueError, match=r"key 'mDice' is not logged; keys present: \[.*'decode.loss_ce'.*'loss'"):
        tool['main']([str(log), '--keys', 'loss', 'mDice'])
    # Default keys: a run without validation plots its loss only.
    assert list(tool['main']([str(log)])[str(log)]) == ['loss']


def test_bad_line_and_missing_log_are_named(tool, tmp_path):
    log = tmp_path / 'scalars.json'
    log.write_text('{"loss": 1.0, "iter": 1, "step": 1}\n{"loss": 0.9, "it\n')
    with pytest.raises(ValueError, match=rf'{log}:2: not a JSON line'):
        tool['main']([str(log)])
    with pytest.raises(ValueError, match='holds no'):
        tool['main']([str(tmp_path)])
    with pytest.raises(ValueError, match='nope.json'):
        tool['main']([str(tmp_path / 'nope.json')])
