"""check_config: every part of a config built and one step trained, without its data."""

from pathlib import Path

import pytest

from segtools.utils.config_check import check_config, config_pipelines, disable_pretrained, find_configs
from segtools.utils.config_compat import load_config

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f'_base_ = {str(DEMO)!r}\n{body}')
    return path


def test_the_demo_config_passes_every_stage():
    result = check_config(str(DEMO), size=64)
    assert result.ok, result.detail
    assert result.notes == []


@pytest.mark.parametrize(
    ('body', 'stage', 'message'),
    [
        ("model = dict(decode_head=dict(type='NoSuchHead'))\n", 'runner', 'NoSuchHead'),
        (
            "train_pipeline = [dict(type='RandomFlip', prob=0.5, directon='horizontal')]\n"
            'train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n',
            'pipelines',
            'directon',
        ),
        ("test_dataloader = dict(dataset=dict(type='NightDrivingDatasett'))\n", 'datasets', 'NightDrivingDatasett'),
        ("val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoUU'])\n", 'evaluators', 'mIoUU'),
        ('optim_wrapper = dict(optimizer=dict(momentumm=0.9))\n', 'optimizer', 'momentumm'),
        ("param_scheduler = [dict(type='PolyLR', powerr=0.9, by_epoch=False)]\n", 'schedulers', 'powerr'),
        ('model = dict(decode_head=dict(num_classes=3), auxiliary_head=dict(in_channels=999))\n', 'runner', '999'),
    ],
)
def test_the_first_failing_stage_is_named(tmp_path, body, stage, message):
    result = check_config(str(_write(tmp_path, 'broken.py', body)), size=64)
    assert not result.ok and result.failed_stage == stage, result.detail
    assert message in result.error and 'Traceback' in result.detail


def test_a_gpu_only_wrapper_is_noted_on_a_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    config = _write(tmp_path, 'amp.py', "optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')\n")
    result = check_config(str(config), size=64, train_step=False)
    assert result.ok, result.detail
    assert result.notes == [
        'optim_wrapper.type=AmpOptimWrapper needs a GPU; checked with BF16OptimWrapper on this CPU '
        '(as tools/train.py --amp trains there)'
    ]


def test_pipelines_of_wrapped_datasets_and_pretrained_switched_off(tmp_path):
    body = (
        "train_dataloader = dict(dataset=dict(_delete_=True, type='ConcatDataset', datasets=["
        "dict(type='RepeatDataset', times=2, dataset=dict(type='BrainAtlasDataset', pipeline=[dict(type='A')])),"
        "dict(type='BrainAtlasDataset', pipeline=[dict(type='B')])]))\n"
        "model = dict(pretrained='segtools://resnet50_v1c', backbone=dict(init_cfg=dict(type='Pretrained', "
        "checkpoint='x.pth')))\n"
    )
    cfg = load_config(_write(tmp_path, 'wrapped.py', body))
    types = [[t['type'] for t in pipeline] for pipeline in config_pipelines(cfg)]
    assert types[:2] == [['A'], ['B']] and len(types) == 5  # then val, test and the demo's tta_pipeline
    disable_pretrained(cfg)
    assert cfg.model.pretrained is None and cfg.model.backbone.init_cfg is None


def test_find_configs_skips_bases_and_other_families(tmp_path):
    for path in ('_base_/models/a.py', 'fcn/b.py', 'fcn/README.md', 'psp/c.py'):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text('')
    assert [Path(p).relative_to(tmp_path).as_posix() for p in find_configs(str(tmp_path))] == ['fcn/b.py', 'psp/c.py']
    assert [Path(p).name for p in find_configs(str(tmp_path), ('psp',))] == ['c.py']
