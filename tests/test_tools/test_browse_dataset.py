"""tools/analysis_tools/browse_dataset.py on the bundled brain-atlas config."""

import importlib.util
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs' / '_base_' / 'datasets' / 'brain_atlas.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'browse_dataset', REPO / 'tools' / 'analysis_tools' / 'browse_dataset.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_writes_one_overlay_per_sample(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the config's data_root is relative to the repository root
    out_dir = tmp_path / 'browse'
    drawn = _load_tool().main([str(CONFIG), '--not-show', '--max-samples', '2', '--output-dir', str(out_dir)])
    files = sorted(out_dir.glob('*.png'))
    assert drawn == 2 and len(files) == 2
    crop_h, crop_w = 160, 160  # the config's crop_size bounds every training sample
    for path in files:
        image = cv2.imread(str(path))
        height, width = image.shape[:2]
        assert height <= crop_h and width % 2 == 0 and width // 2 <= crop_w  # image | GT overlay


def test_not_show_without_output_dir_is_refused():
    with pytest.raises(SystemExit):
        _load_tool().parse_args([str(CONFIG), '--not-show'])
