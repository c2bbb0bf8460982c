"""tools/analysis_tools/confusion_matrix.py on the bundled brain-atlas validation set."""

import csv
import runpy
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis_tools' / 'confusion_matrix.py'
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'
GT_DIR = REPO / 'data' / 'brain_atlas' / 'ann_dir' / 'val'
NUM_CLASSES = 12


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(str(TOOL))


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)  # the config's data_root is relative to the repository root


@pytest.fixture
def gt_as_predictions(tmp_path) -> Path:
    pred_dir = tmp_path / 'pred'
    shutil.copytree(GT_DIR, pred_dir)
    return pred_dir


def _gt_counts() -> np.ndarray:
    """Pixels per class over the validation masks, computed straight from the files."""
    counts = np.zeros(NUM_CLASSES, dtype=np.int64)
    for path in GT_DIR.glob('*.png'):
        counts += np.bincount(cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ravel(), minlength=NUM_CLASSES)
    return counts


def test_ground_truth_as_prediction_gives_a_diagonal(tool, gt_as_predictions, tmp_path, capsys):
    save_dir = tmp_path / 'out'
    cm = tool['main']([str(DEMO), str(gt_as_predictions), str(save_dir), '--title', 'oracle'])
    counts = _gt_counts()
    assert cm.shape == (NUM_CLASSES, NUM_CLASSES) and cm.dtype == np.int64
    np.testing.assert_array_equal(cm, np.diag(counts))
    assert f'{counts.sum()} pixels' in capsys.readouterr().out

    np.testing.assert_array_equal(np.load(save_dir / 'confusion_matrix.npy'), cm)
    rows = list(csv.reader((save_dir / 'confusion_matrix.csv').open()))
    assert rows[0][1] == 'background' and rows[8][0] == 'hippocampus_amygdala' and len(rows) == NUM_CLASSES + 1
    assert [int(v) for v in rows[1][1:]] == cm[0].tolist()
    image = cv2.imread(str(save_dir / 'confusion_matrix.png'))
    assert image is not None and min(image.shape[:2]) > 200
    assert sorted(p.name for p in save_dir.iterdir()) == [f'confusion_matrix.{ext}' for ext in ('csv', 'npy', 'png')]


def test_perturbed_prediction_moves_a_known_count(tool, gt_as_predictions, tmp_path):
    target = sorted(gt_as_predictions.glob('*.png'))[3]
    pred = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    rows, cols = np.nonzero(pred == 0)  # 37 background pixels predicted as class 3
    pred[rows[:37], cols[:37]] = 3
    cv2.imwrite(str(target), pred)

    cm = tool['main']([str(DEMO), str(gt_as_predictions), str(tmp_path / 'out'), '--normalize'])
    expected = np.diag(_gt_counts())
    expected[0, 0] -= 37
    expected[0, 3] += 37
    np.testing.assert_array_equal(cm, expected)
    percent = np.load(tmp_path / 'out' / 'confusion_matrix.npy')
    assert percent[0, 3] == pytest.approx(100 * 37 / expected[0].sum())
    assert percent.sum(axis=1) == pytest.approx(np.full(NUM_CLASSES, 100.0))


def test_reduce_zero_label_reads_offset_predictions(tool, gt_as_predictions, tmp_path):
    # With reduce_zero_label the ground truth becomes 0 -> 255 (ignored), k -> k - 1, and the
    # prediction PNGs hold class + 1, so the original masks are again a perfect prediction.
    options = ['--cfg-options', '+test_dataloader.dataset.reduce_zero_label=True']
    cm = tool['main']([str(DEMO), str(gt_as_predictions), str(tmp_path / 'out'), *options])
    counts = _gt_counts()
    np.testing.assert_array_equal(np.diag(cm)[: NUM_CLASSES - 1], counts[1:])
    assert cm.sum() == counts[1:].sum()


def test_missing_prediction_and_wrong_shape_are_named(tool, gt_as_predictions, tmp_path):
    first, second = sorted(gt_as_predictions.glob('*.png'))[:2]
    cv2.imwrite(str(second), cv2.imread(str(second), cv2.IMREAD_UNCHANGED)[:-1])
    with pytest.raises(ValueError, match=rf'{second.name} has shape \(216, 181\) but .* has \(217, 181\)'):
        tool['main']([str(DEMO), str(gt_as_predictions), str(tmp_path / 'out')])
    first.unlink()
    with pytest.raises(FileNotFoundError, match=first.name):
        tool['main']([str(DEMO), str(gt_as_predictions), str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()


def test_reads_what_tools_test_writes(tool, tmp_path):
    """The PNGs of ``tools/test.py --out`` (random weights, 2 images) are found and counted; mIoU still printed."""
    tool['register_all_modules']()
    cfg = Config.fromfile(DEMO)
    from segtools.registry import MODELS

    checkpoint = tmp_path / 'random.pth'
    torch.save({'meta': {}, 'state_dict': MODELS.build(cfg.model).state_dict()}, checkpoint)
    options = ['+test_dataloader.dataset.indices=2', 'test_dataloader.num_workers=0']
    options += ['test_dataloader.persistent_workers=False']
    pred_dir = tmp_path / 'pred'
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(DEMO), str(checkpoint), '--out', str(pred_dir)]
    result = run_command(
        [*cmd, '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *options],
        cwd=REPO,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(pred_dir.glob('*.png'))) == 2 and (pred_dir / 'metrics.json').is_file()
    assert 'mIoU' in result.stdout + result.stderr

    cm = tool['main']([str(DEMO), str(pred_dir), str(tmp_path / 'out'), '--cfg-options', options[0]])
    # Whatever random weights predict, each ground-truth row sums to that class's pixels in the 2 masks.
    masks = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(GT_DIR.glob('*.png'))[:2]]
    expected_rows = sum(np.bincount(m.ravel(), minlength=NUM_CLASSES) for m in masks)
    np.testing.assert_array_equal(cm.sum(axis=1), expected_rows)
