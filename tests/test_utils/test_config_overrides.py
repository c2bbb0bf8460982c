"""segtools.utils.config_overrides: --cfg-options checked against the loaded config."""

import argparse

import pytest
from mmengine.config import Config, DictAction

from segtools.errors import ConfigError
from segtools.utils import config_overrides
from segtools.utils.config_overrides import (
    CfgOptionsAction,
    apply_cfg_options,
    check_cfg_options,
    disable_idle_persistent_workers,
)

# Written like mmseg's configs: top-level helper variables used inside the dicts.
CONFIG = """
crop_size = (160, 160)
norm_cfg = dict(type='BN', requires_grad=True)
data_root = 'data/brain_atlas'
model = dict(
    type='EncoderDecoder',
    backbone=dict(type='ResNetV1c', depth=18, norm_cfg=norm_cfg),
    decode_head=dict(type='FCNHead', num_classes=12, norm_cfg=norm_cfg),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(181, 217), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True, dataset=dict(data_root=data_root, pipeline=train_pipeline)
)
val_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=True, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optimizer = dict(type='SGD', lr=0.01)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=500, val_interval=100)
randomness = dict(seed=0, deterministic=False)
load_from = None
"""


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / 'config.py'
    path.write_text(CONFIG)
    return Config.fromfile(str(path))


def _parse(*options: str) -> dict:
    """The options as the tools' parsers (mmengine's DictAction) hand them over."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def test_existing_keys_merge_including_helper_variables_and_list_items(cfg):
    options = _parse(
        'train_cfg.max_iters=20',
        'model.backbone.depth=50',
        'crop_size=(256,256)',  # a top-level helper variable exists in the loaded config
        'norm_cfg.type=SyncBN',
        'data_root=/data/other',
        'train_dataloader.dataset.pipeline.1.scale=(300,400)',
        'load_from=x.pth',  # None in the config accepts anything
    )
    merged = apply_cfg_options(cfg, options)
    assert merged == options
    assert cfg.train_cfg.max_iters == 20 and cfg.model.backbone.depth == 50
    assert cfg.crop_size == (256, 256) and cfg.norm_cfg.type == 'SyncBN' and cfg.data_root == '/data/other'
    assert cfg.train_dataloader.dataset.pipeline[1].scale == (300, 400)
    assert cfg.train_dataloader.dataset.pipeline[0].type == 'LoadImageFromFile'
    assert cfg.load_from == 'x.pth'


@pytest.mark.parametrize(
    ('option', 'missing', 'where', 'suggestion'),
    [
        ('load_fromm=x.pth', 'load_fromm', 'at the top level', 'load_from'),
        ('randomnes.seed=3', 'randomnes', 'at the top level', 'randomness'),
        ('model.decode_head.num_clases=4', 'num_clases', "in 'model.decode_head'", 'model.decode_head.num_classes'),
        (
            'train_dataloader.dataset.pipeline.2.crop_sise=(9,9)',
            'crop_sise',
            "in 'train_dataloader.dataset.pipeline.2'",
            'train_dataloader.dataset.pipeline.2.crop_size',
        ),
        ('train_cfg.Max_Iters=3', 'Max_Iters', "in 'train_cfg'", 'train_cfg.max_iters'),
    ],
)
def test_misspelt_key_is_an_error_with_the_closest_key(cfg, option, missing, where, suggestion):
    before = cfg.to_dict()
    with pytest.raises(ConfigError) as info:
        apply_cfg_options(cfg, _parse(option))
    message = str(info.value)
    assert f'--cfg-options {option.split("=")[0]}=' in message
    assert f'no key {missing!r} {where}' in message
    assert f'did you mean {suggestion!r}?' in message
    assert f"leading '+': +{option.split('=')[0]}=" in message
    assert cfg.to_dict() == before  # nothing merged


def test_unknown_key_without_a_close_match_lists_the_keys(cfg):
    with pytest.raises(ConfigError, match=r"no key 'zzz' in 'train_cfg'; its keys are: max_iters, type, val_interval"):
        check_cfg_options(cfg, {'train_cfg.zzz': 1})


def test_marked_new_keys_are_added_without_the_marker(cfg):
    options = _parse('+my_new_key=3', '+model.decode_head.sampler.type=OHEMPixelSampler', '+train_cfg.max_iters=7')
    merged = apply_cfg_options(cfg, options)
    assert merged == {'my_new_key': 3, 'model.decode_head.sampler.type': 'OHEMPixelSampler', 'train_cfg.max_iters': 7}
    assert cfg.my_new_key == 3 and cfg.model.decode_head.sampler.type == 'OHEMPixelSampler'
    assert cfg.train_cfg.max_iters == 7  # '+' on an existing key overrides it
    assert '+my_new_key' not in cfg


def test_a_new_key_in_an_existing_dict_needs_the_marker(cfg):
    match = r"(?s)no key 'sampler' in 'model.decode_head'.*\+model\.decode_head\.sampler"
    with pytest.raises(ConfigError, match=match):
        apply_cfg_options(cfg, _parse('model.decode_head.sampler.type=OHEMPixelSampler'))


@pytest.mark.parametrize(
    ('option', 'match'),
    [
        ('train_dataloader.dataset.pipeline.3.scale=1', r"'train_dataloader.dataset.pipeline' is a list of 3 items"),
        ('train_dataloader.dataset.pipeline.type=X', r'address an item by its index 0..2, not \'type\''),
        ('crop_size.0=128', r"'crop_size' is the tuple \(160, 160\); a tuple can only be replaced whole"),
        ('train_cfg.max_iters.value=3', r"'train_cfg.max_iters' is int 500, not a dict; it has no key 'value'"),
        ('+train_cfg.max_iters.value=3', r"'train_cfg.max_iters' is int 500, not a dict"),  # not even when marked new
        ('model..depth=3', r'empty key component'),
    ],
)
def test_paths_that_cannot_be_set_are_errors(cfg, option, match):
    with pytest.raises(ConfigError, match=match):
        apply_cfg_options(cfg, _parse(option))


@pytest.mark.parametrize(
    ('option', 'expected'),
    [
        ('train_cfg.max_iters=abc', "expected an int like the config value 500, got the string 'abc'"),
        ('optimizer.lr=fast', "expected a float like the config value 0.01, got the string 'fast'"),
        (
            'randomness.deterministic=yes',
            "expected a bool (true or false) like the config value False, got the string 'yes'",
        ),
    ],
)
def test_a_string_where_the_config_holds_a_number_or_bool_is_an_error(cfg, option, expected):
    with pytest.raises(ConfigError) as info:
        apply_cfg_options(cfg, _parse(option))
    assert str(info.value) == f'--cfg-options {option}: {expected}'


def test_ambiguous_type_changes_are_accepted(cfg):
    options = _parse('train_cfg.max_iters=1.5', 'optimizer.lr=1', 'randomness.seed=None', 'model.backbone.type=ResNet')
    apply_cfg_options(cfg, options)
    assert cfg.train_cfg.max_iters == 1.5 and cfg.optimizer.lr == 1 and cfg.randomness.seed is None


def test_persistent_workers_are_turned_off_without_workers(cfg, monkeypatch):
    logged = []
    monkeypatch.setattr(config_overrides, 'print_log', lambda message, **kwargs: logged.append(message))
    apply_cfg_options(cfg, _parse('train_dataloader.num_workers=0'))
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.persistent_workers is True  # it still has workers
    assert len(logged) == 1 and logged[0].startswith('train_dataloader: num_workers=0')
    assert 'persistent_workers is turned off' in logged[0]


def test_persistent_workers_check_covers_every_dataloader(monkeypatch):
    logged = []
    monkeypatch.setattr(config_overrides, 'print_log', lambda message, **kwargs: logged.append(message))
    cfg = Config(
        dict(
            train_dataloader=dict(num_workers=4, persistent_workers=True),
            val_dataloader=dict(persistent_workers=True),  # no num_workers: torch's default 0
            test_dataloader=dict(num_workers=0, persistent_workers=True),
        )
    )
    assert disable_idle_persistent_workers(cfg) == ['val_dataloader', 'test_dataloader']
    assert [cfg[f'{split}_dataloader'].persistent_workers for split in ('train', 'val', 'test')] == [True, False, False]
    assert [message.split(':')[0] for message in logged] == ['val_dataloader', 'test_dataloader']
    # print_config keeps the config as written.
    cfg.val_dataloader.persistent_workers = True
    apply_cfg_options(cfg, None, fix_workers=False)
    assert cfg.val_dataloader.persistent_workers is True


def test_no_options_change_nothing_but_the_workers(cfg):
    before = cfg.to_dict()
    assert apply_cfg_options(cfg, None) == {}
    assert cfg.to_dict() == before


def test_cfg_options_action_parses_like_dict_action_and_refuses_items_without_a_value(capsys):
    parser = argparse.ArgumentParser(prog='tool.py')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    options = parser.parse_args(['--cfg-options', '+a.b=1', 'c=x,y', 'd=None']).cfg_options
    assert options == {'+a.b': 1, 'c': ['x', 'y'], 'd': None}
    with pytest.raises(SystemExit) as info:
        parser.parse_args(['--cfg-options', 'a=1', 'load_from'])
    assert info.value.code == 2
    assert "argument --cfg-options: expected key=value, got 'load_from'" in capsys.readouterr().err
