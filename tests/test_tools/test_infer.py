"""tools/infer.py: label PNGs and overlays for a folder of images, clear errors for bad inputs."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from segtools.apis import inference_model, init_model
from segtools.datasets.brain_atlas import BrainAtlasDataset
from segtools.registry import MODELS
from segtools.utils import register_all_modules

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'
VAL = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'val'
NAMES = ('colin27_axial_057.png', 'colin27_axial_066.png')


def _load_tool():
    spec = importlib.util.spec_from_file_location('segtools_tool_infer', REPO / 'tools' / 'infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def infer():
    return _load_tool()


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """The demo model with seeded zero-mean noise on every weight (input-dependent predictions)."""
    register_all_modules()
    generator = torch.Generator().manual_seed(1)
    state = MODELS.build(Config.fromfile(str(DEMO)).model).state_dict()
    state = {
        key: value * (0.5 + torch.rand(value.shape, generator=generator))
        if key.endswith('running_var')
        else value + 0.1 * torch.randn(value.shape, generator=generator)
        if value.is_floating_point()
        else value
        for key, value in state.items()
    }
    meta = dict(classes=BrainAtlasDataset.METAINFO['classes'], palette=BrainAtlasDataset.METAINFO['palette'])
    path = tmp_path_factory.mktemp('infer_ckpt') / 'demo.pth'
    torch.save({'state_dict': state, 'meta': {'dataset_meta': meta}}, path)
    return path


@pytest.fixture
def image_dir(tmp_path) -> Path:
    folder = tmp_path / 'images'
    folder.mkdir()
    for name in NAMES:
        shutil.copy(VAL / name, folder / name)
    (folder / 'notes.txt').write_text('not an image')  # ignored: not an image suffix
    return folder


def test_infer_cli_writes_label_pngs_equal_to_inference_model(checkpoint, image_dir, tmp_path):
    out_dir = tmp_path / 'out'
    cmd = [sys.executable, str(REPO / 'tools' / 'infer.py'), str(image_dir), str(DEMO), str(checkpoint)]
    cmd += ['--out-dir', str(out_dir), '--device', 'cpu', '--batch-size', '2', '--opacity', '0.4']
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]

    stems = [Path(name).stem for name in NAMES]
    expected_files = sorted(f'{stem}_{kind}.png' for stem in stems for kind in ('pred', 'overlay'))
    assert sorted(p.name for p in out_dir.iterdir()) == expected_files

    model = init_model(DEMO, checkpoint, device='cpu')
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(NAMES)
    for name, line in zip(NAMES, lines, strict=True):
        pred = inference_model(model, image_dir / name).pred_sem_seg.data[0].numpy()
        with Image.open(out_dir / f'{Path(name).stem}_pred.png') as png:
            assert png.mode == 'P'
            np.testing.assert_array_equal(np.array(png), pred)
        overlay = cv2.imread(str(out_dir / f'{Path(name).stem}_overlay.png'))
        assert overlay.shape == (*pred.shape, 3)
        present = [model.dataset_meta['classes'][i] for i in np.unique(pred)]
        assert len(present) >= 2
        assert line.startswith(f'{image_dir / name}: {pred.shape[0]}x{pred.shape[1]}, classes: ')
        assert all(f'{cls} (' in line for cls in present), line
        absent = set(model.dataset_meta['classes']) - set(present)
        assert not any(f' {cls} (' in line for cls in absent), line


def test_infer_names_a_missing_image(infer, checkpoint, tmp_path):
    with pytest.raises(SystemExit, match=r'image .*absent\.png does not exist'):
        infer.main([str(tmp_path / 'absent.png'), str(DEMO), str(checkpoint), '--out-dir', str(tmp_path)])


def test_infer_names_an_unreadable_image(infer, checkpoint, image_dir, tmp_path):
    (image_dir / 'broken.png').write_bytes(b'\x89PNG truncated')
    with pytest.raises(SystemExit, match=r'cannot read or prepare image .*broken\.png'):
        infer.main([str(image_dir), str(DEMO), str(checkpoint), '--out-dir', str(tmp_path / 'out'), '--device', 'cpu'])


def test_infer_names_a_missing_checkpoint(infer, image_dir, tmp_path):
    with pytest.raises(SystemExit, match=r'checkpoint .*nowhere\.pth does not exist'):
        infer.main([str(image_dir), str(DEMO), str(tmp_path / 'nowhere.pth'), '--out-dir', str(tmp_path)])


def test_infer_refuses_stems_that_would_collide(infer, checkpoint, image_dir, tmp_path):
    other = tmp_path / 'other'
    other.mkdir()
    shutil.copy(VAL / NAMES[0], other / NAMES[0])
    with pytest.raises(SystemExit, match='would both write colin27_axial_057_pred.png'):
        infer.main([str(image_dir), str(other), str(DEMO), str(checkpoint), '--out-dir', str(tmp_path)])


def test_infer_needs_images_config_and_checkpoint(infer, tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        infer.main([str(DEMO), 'ckpt.pth', '--out-dir', str(tmp_path)])
    assert error.value.code == 2
    assert 'expected IMAGE... CONFIG CHECKPOINT' in capsys.readouterr().err
