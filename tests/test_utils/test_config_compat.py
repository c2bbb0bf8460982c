"""load_config: MMSegmentation configs run in the segtools scope; missing files are named."""

from pathlib import Path

import pytest

from segtools.errors import ConfigError
from segtools.utils.config_compat import adapt_scope, load_config

REPO = Path(__file__).resolve().parents[2]
MMSEG_STYLE = """
default_scope = 'mmseg'
model = dict(type='EncoderDecoder', backbone=dict(type='ResNetV1c', depth=18, _scope_='mmseg'))
train_pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5, _scope_='mmseg')]
visualizer = dict(type='SegLocalVisualizer', _scope_='mmengine')
"""


def test_mmseg_scopes_become_segtools(tmp_path):
    path = tmp_path / 'mmseg_style.py'
    path.write_text(MMSEG_STYLE)
    cfg = load_config(path)
    assert cfg.default_scope == 'segtools'
    assert cfg.model.backbone._scope_ == 'segtools' and cfg.train_pipeline[1]._scope_ == 'segtools'
    assert cfg.visualizer._scope_ == 'mmengine'  # other scopes are left as written
    assert adapt_scope(cfg) == []  # nothing left to change


def test_segtools_configs_are_left_alone():
    cfg = load_config(REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py')
    assert cfg.default_scope == 'segtools'


def test_a_missing_config_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config '.*absent\.py' does not exist"):
        load_config(tmp_path / 'absent.py')
