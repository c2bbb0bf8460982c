"""tools/test.py: evaluates a checkpoint of the demo config, refuses unsafe checkpoints."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from ..tool_process import run_command

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'
SMALL_CONFIG = f"""
_base_ = {str(DEMO)!r}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
"""
METRIC_LINE = re.compile(r'Iter\((val|test)\).*aAcc: ([\d.]+)\s+mIoU: ([\d.]+)\s+mAcc: ([\d.]+)')


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return run_command(cmd, cwd=REPO, timeout=240)


def _metrics(log: str, mode: str) -> tuple[float, float, float]:
    found = [match.groups()[1:] for match in METRIC_LINE.finditer(log) if match.group(1) == mode]
    assert len(found) == 1, f'expected one {mode} metrics line in:\n{log[-3000:]}'
    return tuple(float(value) for value in found[0])


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two training iterations with validation at the end; returns (config, checkpoint, val metrics)."""
    root = tmp_path_factory.mktemp('test_tool')
    config = root / 'small_demo.py'
    config.write_text(SMALL_CONFIG)
    work_dir = root / 'run'
    options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    cmd = [sys.executable, str(REPO / 'tools' / 'train.py'), str(config), '--work-dir', str(work_dir), '--seed', '0']
    result = _run([*cmd, '--cfg-options', *options])
    assert result.returncode == 0, result.stderr[-3000:]
    return config, work_dir / 'iter_2.pth', _metrics(result.stdout + result.stderr, 'val')


def test_test_prints_table_and_reproduces_val_miou(trained, tmp_path):
    config, checkpoint, val_metrics = trained
    show_dir = tmp_path / 'shown'
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(checkpoint), '--work-dir', str(tmp_path)]
    result = _run([*cmd, '--show-dir', str(show_dir)])
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    # --show-dir receives the overlays themselves (the hook draws the first batch, interval 50).
    assert len(list(show_dir.glob('*.png'))) >= 1
    assert 'per class results' in log
    for name in ('background', 'hippocampus_amygdala', 'vermis'):
        assert re.search(rf'\|\s*{name}\s*\|', log), name
    # The same weights on the same val split: test.py must reproduce the training run's numbers.
    assert _metrics(log, 'test') == pytest.approx(val_metrics, abs=1e-4)


def test_test_refuses_code_executing_checkpoint(trained, tmp_path):
    config, _, _ = trained
    marker = tmp_path / 'pwned'

    class RunsCode:
        def __reduce__(self):
            return os.system, (f'touch {marker}',)

    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': RunsCode()}, evil)
    test_tool = str(REPO / 'tools' / 'test.py')
    result = _run([sys.executable, test_tool, str(config), str(evil), '--work-dir', str(tmp_path)])
    assert result.returncode != 0
    assert 'UnsafeCheckpointError' in result.stderr and 'Refusing to load checkpoint' in result.stderr
    assert not marker.exists()


def test_test_names_a_missing_checkpoint(trained, tmp_path):
    config, _, _ = trained
    missing = tmp_path / 'nowhere.pth'
    result = _run([sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(missing)])
    assert result.returncode != 0 and 'nowhere.pth' in result.stderr and 'does not exist' in result.stderr


def test_test_tta_evaluates_each_image_once(trained, tmp_path):
    config, checkpoint, val_metrics = trained
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(checkpoint), '--work-dir', str(tmp_path)]
    # The first 6 of the 27 val images keep it quick (their batches: 4 and a partial 2).
    options = ['tta_model.type=SegTTAModel', '+test_dataloader.dataset.indices=6']
    result = _run([*cmd, '--tta', '--cfg-options', *options])
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    # 12 views (6 scales x flip) of each image, fused into one prediction per image: 2 batches of
    # up to 4 images, and one metrics line.
    assert re.search(r'Iter\(test\) \[2/2\]', log), log[-2000:]
    tta_metrics = _metrics(log, 'test')
    assert all(0.0 <= value <= 100.0 for value in tta_metrics)


def test_test_tta_needs_the_config_keys(trained, tmp_path):
    config, checkpoint, _ = trained
    bare = tmp_path / 'no_tta.py'
    bare.write_text(f'_base_ = {str(config)!r}\ntta_pipeline = None\n')
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(bare), str(checkpoint), '--tta']
    result = _run(cmd)
    assert result.returncode != 0 and "--tta needs ['tta_pipeline']" in result.stderr


def test_test_user_errors_exit_2_with_one_message(tmp_path):
    # Both are found before the checkpoint is read, so any existing file does as one.
    config, checkpoint, empty = tmp_path / 'small_demo.py', tmp_path / 'unread.pth', tmp_path / 'empty'
    config.write_text(SMALL_CONFIG)
    checkpoint.write_bytes(b'')
    empty.mkdir()
    cmd = [sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(checkpoint), '--work-dir', str(tmp_path)]

    typo = _run([*cmd, '--cfg-options', 'test_dataloader.dataset.data_rot=x'])
    assert typo.returncode == 2, typo.stderr[-3000:]
    assert "did you mean 'test_dataloader.dataset.data_root'?" in typo.stderr
    assert 'Traceback' not in typo.stderr

    missing = _run([*cmd, '--cfg-options', f'test_dataloader.dataset.data_root={empty}'])
    assert missing.returncode == 2, missing.stderr[-3000:]
    assert 'test.py: error: DatasetNotFoundError: BrainAtlasDataset: image folder' in missing.stderr
    assert missing.stderr.count('does not exist') == 1 and 'Traceback' not in missing.stderr

    debug = _run([*cmd, '--debug', '--cfg-options', f'test_dataloader.dataset.data_root={empty}'])
    assert debug.returncode == 2 and 'Traceback (most recent call last)' in debug.stderr

    # A model-store name is a checkpoint too; a misspelt one names the closest entries.
    store = [*cmd[:3], 'segtools://resnest51_imagenet', *cmd[4:]]
    unknown = _run(store)
    assert unknown.returncode == 2 and 'Traceback' not in unknown.stderr, unknown.stderr[-3000:]
    assert 'segtools://resnest51_imagenet' in unknown.stderr and 'resnest50_imagenet' in unknown.stderr


# --- Only the model a checkpoint holds is scored ---------------------------------------------


def _test_cmd(config: Path, checkpoint: Path, work_dir: Path, *extra: str) -> list[str]:
    test_tool = str(REPO / 'tools' / 'test.py')
    return [sys.executable, test_tool, str(config), str(checkpoint), '--work-dir', str(work_dir), *extra]


@pytest.mark.parametrize('kind', ['class_count', 'renamed_keys'])
def test_test_refuses_a_checkpoint_that_does_not_fit(trained, tmp_path, kind):
    config, checkpoint, _ = trained
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    if kind == 'class_count':
        # Another class count: the heads' conv_seg cannot hold it.
        five = {key: value[:5] if 'conv_seg' in key else value for key, value in state.items()}
        torch.save({'state_dict': five}, bad := tmp_path / 'five_classes.pth')
        expected = r'decode_head\.conv_seg\.weight \(5, 64, 1, 1\) in the checkpoint vs \(12, 64, 1, 1\) in the model'
    else:
        # Every key misses (another model's layout): before, random weights were scored.
        torch.save({'state_dict': {f'net.{key}': value for key, value in state.items()}}, bad := tmp_path / 'net.pth')
        expected = r'\d+ missing from the checkpoint: backbone\.stem\.0\.weight'
    result = _run(_test_cmd(config, bad, tmp_path))
    log = result.stdout + result.stderr
    assert result.returncode == 2, log[-3000:]
    assert re.search(rf'test\.py: error: CheckpointMismatchError: checkpoint {re.escape(str(bad))} does not fit', log)
    assert re.search(expected, log) and '--allow-partial-load' in log
    assert not METRIC_LINE.search(log) and 'Traceback' not in log

    # Asked for explicitly, the matching weights are loaded, the rest named in a warning, then scored.
    partial = _run(_test_cmd(config, bad, tmp_path, '--allow-partial-load'))
    log = partial.stdout + partial.stderr
    assert partial.returncode == 0, log[-3000:]
    assert 'WARNING - allow_partial_load: loading only the matching weights' in log and re.search(expected, log)
    assert _metrics(log, 'test')


def test_test_refuses_a_model_with_another_class_count_than_the_data(trained, tmp_path):
    config, checkpoint, _ = trained
    options = ['--cfg-options', 'model.decode_head.num_classes=5', 'model.auxiliary_head.num_classes=5']
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    five = {key: value[:5] if 'conv_seg' in key else value for key, value in state.items()}
    torch.save({'state_dict': five}, five_classes := tmp_path / 'five.pth')
    result = _run(_test_cmd(config, five_classes, tmp_path, *options))
    log = result.stdout + result.stderr
    assert result.returncode == 2, log[-3000:]
    assert 'model.decode_head.num_classes=5 but test_dataloader.dataset (BrainAtlasDataset) has 12 classes' in log
    assert not METRIC_LINE.search(log)


# --- A checkpoint in MMSegmentation's layout ------------------------------------------------------------
PSP_CONFIG = """
_base_ = {base!r}
model = dict(
    decode_head=dict(
        _delete_=True, type='PSPHead', in_channels=256, in_index=3, channels=32, pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1, num_classes=12, norm_cfg=dict(type='SyncBN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    )
)
"""


def test_test_scores_an_mmseg_layout_checkpoint_as_its_segtools_twin(trained, tmp_path):
    """PSPNet names its pooling branches differently in mmseg: tools/test.py renames them on load."""
    from segtools.registry import MODELS
    from segtools.utils import register_all_modules
    from segtools.utils.config_compat import load_config

    config, checkpoint, _ = trained
    psp_config = tmp_path / 'psp_demo.py'
    psp_config.write_text(PSP_CONFIG.format(base=str(config)))
    register_all_modules()
    # The trained demo's backbone and auxiliary head; a PSP head of random weights and statistics.
    trained_state = torch.load(checkpoint, weights_only=True)['state_dict']
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, value in MODELS.build(load_config(psp_config).model).state_dict().items():
        if key.startswith(('backbone.', 'auxiliary_head.')):
            state[key] = trained_state[key]
        elif key.endswith('running_var'):
            state[key] = 0.5 + torch.rand(value.shape, generator=generator)
        elif value.is_floating_point():
            scale = value[0].numel() ** -0.5 if value.dim() > 1 else 0.25  # conv fan-in; norm affine, biases
            state[key] = scale * torch.randn(value.shape, generator=generator)
        else:
            state[key] = value
    torch.save({'state_dict': state, 'meta': {}}, ours := tmp_path / 'psp_segtools.pth')
    # The inverse of segtools.weights.converters.mmseg's psp rule: psp.branches.i.conv -> psp_modules.i.1.
    mmseg_state = {re.sub(r'\.psp\.branches\.(\d)\.conv\.', r'.psp_modules.\1.1.', k): v for k, v in state.items()}
    assert sum(key not in state for key in mmseg_state) == 24
    torch.save({'state_dict': mmseg_state, 'meta': {}}, theirs := tmp_path / 'psp_mmseg.pth')

    # The same file with the pooling branches of bins 1 and 6 swapped: what a wrong rule would load.
    swapped = {
        re.sub(r'psp_modules\.([03])\.', lambda m: f'psp_modules.{3 - int(m[1])}.', k): v
        for k, v in mmseg_state.items()
    }
    torch.save({'state_dict': swapped, 'meta': {}}, wrong := tmp_path / 'psp_swapped.pth')

    logs = {}
    for name, path in (('segtools', ours), ('mmseg', theirs), ('swapped', wrong)):
        result = _run(_test_cmd(psp_config, path, tmp_path / name))
        logs[name] = result.stdout + result.stderr
        assert result.returncode == 0, logs[name][-3000:]
    line = (
        f"checkpoint {theirs} is in MMSegmentation's layout: 24 keys renamed to segtools' (the conversion of "
        'tools/model_converters/mmseg2segtools.py --arch psp)'
    )
    assert line in logs['mmseg'] and "MMSegmentation's layout" not in logs['segtools']
    assert _metrics(logs['mmseg'], 'test') == _metrics(logs['segtools'], 'test')
    # The metrics depend on where each branch's weights go, so the equality above is no accident.
    assert _metrics(logs['swapped'], 'test') != _metrics(logs['mmseg'], 'test')


def test_test_loads_a_checkpoint_mmengine_wrote_with_its_pickled_logs(trained, tmp_path):
    """An mmseg 1.x run's checkpoint: mmengine pickles its message hub (HistoryBuffer, getattr, numpy)."""
    config, checkpoint, val_metrics = trained
    saved = torch.load(checkpoint, weights_only=True)
    hub = MessageHub.get_instance('mmengine_written')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('eta', np.float64(3.0))
    saved['message_hub'] = hub.state_dict()
    torch.save(saved, mmengine_written := tmp_path / 'mmengine_written.pth')
    assert 'builtins.getattr' in torch.serialization.get_unsafe_globals_in_checkpoint(str(mmengine_written))
    result = _run(_test_cmd(config, mmengine_written, tmp_path))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'left out 2 training record(s) that need mmengine/numpy classes' in log
    assert _metrics(log, 'test') == pytest.approx(val_metrics, abs=1e-4)
