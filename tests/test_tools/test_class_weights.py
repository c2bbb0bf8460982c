"""tools/analysis_tools/class_weights.py: pixel counts of the training labels and the weights."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'class_weights', REPO / 'tools' / 'analysis_tools' / 'class_weights.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_are_the_training_label_histogram(tool, capsys):
    weights = tool.main([str(DEMO)])
    expected = sum(
        np.bincount(cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ravel(), minlength=12)
        for path in sorted((REPO / 'data' / 'brain_atlas' / 'ann_dir' / 'train').glob('*.png'))
    )
    freq = expected / expected.sum()
    # The mean weight of a training pixel is 1, and rarer classes weigh more.
    assert (freq * weights).sum() == pytest.approx(1.0)
    assert np.all(np.diff(weights[np.argsort(freq)]) <= 1e-12)
    out = capsys.readouterr().out
    assert f'{int(expected[9]):>12d}' in out and 'class_weight=[' in out


def test_median_frequency_formula(tool):
    counts = np.array([600, 300, 100, 0])
    weights = tool.median_frequency_weights(counts, power=1.0)
    freq = np.array([0.6, 0.3, 0.1])
    raw = 0.3 / freq
    np.testing.assert_allclose(weights[:3], raw / (freq * raw).sum())
    assert weights[3] == weights[:3].max()  # an empty class takes the largest weight
    np.testing.assert_allclose(tool.median_frequency_weights(counts, power=0.0)[:3], 1.0)
    with pytest.raises(ValueError, match='no pixel'):
        tool.median_frequency_weights(np.zeros(3))


def test_power_out_of_range_is_refused(tool):
    with pytest.raises(SystemExit):
        tool.parse_args([str(DEMO), '--power', '5'])
