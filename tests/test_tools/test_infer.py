"""tools/infer.py: label PNGs and overlays for a folder of images, clear errors for bad inputs."""

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from segtools.apis import inference_model, init_model
from segtools.registry import MODELS
from segtools.utils import register_all_modules
from segtools.utils.cli import run_tool

from ..tool_process import run_command
from .checkpoints import noisy_checkpoint

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
    return noisy_checkpoint(DEMO, tmp_path_factory.mktemp('infer_ckpt') / 'demo.pth', seed=1)


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
    result = run_command(cmd, cwd=REPO, timeout=240)
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


def run_main(infer, argv: list[str], capsys) -> tuple[int, str, str]:
    """``infer.main(argv)`` as its command line runs it: exit status, stdout and stderr."""
    try:
        run_tool(infer.main, argv, prog='infer.py')
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_names_a_missing_image(infer, checkpoint, tmp_path, capsys):
    code, _, err = run_main(
        infer, [str(tmp_path / 'absent.png'), str(DEMO), str(checkpoint), '--out-dir', str(tmp_path)], capsys
    )
    assert code == 2
    assert re.search(r'^infer\.py: error: image .*absent\.png does not exist$', err, re.M), err


@pytest.mark.parametrize('batch_size', [1, 3])
def test_infer_segments_every_readable_image_and_reports_each_failure(
    infer, checkpoint, image_dir, tmp_path, capsys, batch_size
):
    # "broken" sorts before the good images and shares their chunk: neither stops the others.
    (image_dir / 'broken.png').write_bytes(b'\x89PNG truncated')
    (image_dir / 'empty.jpg').write_bytes(b'')
    out_dir = tmp_path / 'out'
    argv = [str(image_dir), str(tmp_path / 'gone.png'), str(DEMO), str(checkpoint), '--out-dir', str(out_dir)]
    code, out, err = run_main(infer, [*argv, '--device', 'cpu', '--batch-size', str(batch_size)], capsys)
    assert code == 2
    stems = [Path(name).stem for name in NAMES]
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        f'{s}_{k}.png' for s in stems for k in ('pred', 'overlay')
    )
    assert [line.split(':')[0] for line in out.splitlines()] == [str(image_dir / name) for name in NAMES]
    lines = err.strip().splitlines()
    assert len(lines) == 4, err  # one line per failed input, then the summary
    assert all(line.startswith('infer.py: error: ') for line in lines)
    assert 'gone.png does not exist' in lines[0]
    assert re.search(r'cannot read or prepare image .*broken\.png: .*could not be decoded', lines[1]), lines[1]
    assert re.search(r'cannot read or prepare image .*empty\.jpg: .*empty', lines[2]), lines[2]
    assert '3 input(s) failed' in lines[3] and '2 image(s) segmented' in lines[3]


def test_infer_names_a_missing_checkpoint(infer, image_dir, tmp_path, capsys):
    code, _, err = run_main(
        infer, [str(image_dir), str(DEMO), str(tmp_path / 'nowhere.pth'), '--out-dir', str(tmp_path)], capsys
    )
    assert code == 2
    expected = r'^infer\.py: error: CheckpointNotFoundError: checkpoint .*nowhere\.pth does not exist$'
    assert re.search(expected, err, re.M), err


def test_infer_refuses_stems_that_would_collide(infer, checkpoint, image_dir, tmp_path, capsys):
    other = tmp_path / 'other'
    other.mkdir()
    shutil.copy(VAL / NAMES[0], other / NAMES[0])
    code, _, err = run_main(
        infer, [str(image_dir), str(other), str(DEMO), str(checkpoint), '--out-dir', str(tmp_path)], capsys
    )
    assert code == 2 and 'would both write colin27_axial_057_pred.png' in err


@pytest.mark.filterwarnings('ignore:.*assuming 12-bit data')
def test_infer_scales_a_twelve_bit_png_by_its_depth(infer, checkpoint, tmp_path, capsys):
    # A 12-bit MRI slice in a 16-bit PNG is the 8-bit slice times 4095/255: its label map and
    # overlay must equal those of the 8-bit file (OpenCV's 8-bit decode would keep 0..15 of it).
    eight = cv2.imread(str(VAL / NAMES[0]), cv2.IMREAD_GRAYSCALE)
    twelve = np.rint(eight.astype(np.float64) * 4095 / 255).astype(np.uint16)
    folder = tmp_path / 'mri'
    folder.mkdir()
    assert cv2.imwrite(str(folder / 'slice12.png'), twelve)
    shutil.copy(VAL / NAMES[0], folder / 'slice8.png')
    for options in ([], ['--cfg-options', '+test_pipeline.0.bit_depth=12']):
        out_dir = tmp_path / f'out{len(options)}'
        argv = [str(folder), str(DEMO), str(checkpoint), '--out-dir', str(out_dir), '--device', 'cpu', *options]
        code, out, _ = run_main(infer, argv, capsys)
        assert code == 0 and len(out.splitlines()) == 2
        with Image.open(out_dir / 'slice12_pred.png') as deep, Image.open(out_dir / 'slice8_pred.png') as plain:
            np.testing.assert_array_equal(np.array(deep), np.array(plain))
            assert len(np.unique(np.array(plain))) >= 2
        np.testing.assert_array_equal(
            cv2.imread(str(out_dir / 'slice12_overlay.png')), cv2.imread(str(out_dir / 'slice8_overlay.png'))
        )


def test_infer_needs_images_config_and_checkpoint(infer, tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        infer.main([str(DEMO), 'ckpt.pth', '--out-dir', str(tmp_path)])
    assert error.value.code == 2
    assert 'expected IMAGE... CONFIG CHECKPOINT' in capsys.readouterr().err


# --- Classification configs ---------------------------------------------------------------------

RECOGNITION = REPO / 'configs' / 'demo' / 'deepten_r18-d8_1xb64-1500_brain-atlas-patches-48x48.py'


@pytest.fixture(scope='module')
def classifier_checkpoint(tmp_path_factory) -> Path:
    """The recognition demo's model with seeded noise on its weights (classes from the config's dataset)."""
    register_all_modules()
    generator = torch.Generator().manual_seed(2)
    state = MODELS.build(Config.fromfile(str(RECOGNITION)).model).state_dict()
    state = {
        key: value + 0.1 * torch.randn(value.shape, generator=generator) if value.is_floating_point() else value
        for key, value in state.items()
    }
    path = tmp_path_factory.mktemp('cls_ckpt') / 'deepten.pth'
    torch.save({'state_dict': state}, path)
    return path


def test_infer_lists_the_top_classes_of_a_classifier(infer, classifier_checkpoint, tmp_path, capsys):
    patches = tmp_path / 'patches'
    patches.mkdir()
    for index, name in enumerate(NAMES[:2]):
        image = cv2.imread(str(VAL / name))
        cv2.imwrite(str(patches / f'patch_{index}.png'), image[90:138, 60:108])  # a 48x48 patch
    out = tmp_path / 'out'
    code, stdout, err = run_main(
        infer,
        [str(patches), str(RECOGNITION), str(classifier_checkpoint), '--out-dir', str(out), '--topk', '3'],
        capsys,
    )
    assert code == 0, err
    lines = [line for line in stdout.splitlines() if line.startswith(str(patches))]
    assert len(lines) == 2 and all(line.count('%)') == 3 for line in lines)
    predictions = json.loads((out / 'predictions.json').read_text())
    assert sorted(Path(key).name for key in predictions) == ['patch_0.png', 'patch_1.png']
    model = init_model(str(RECOGNITION), str(classifier_checkpoint), device='cpu')
    for key, ranked in predictions.items():
        scores = inference_model(model, key).pred_score
        assert [entry['cls'] for entry in ranked] == [model.dataset_meta['classes'][i] for i in scores.topk(3).indices]
        assert ranked[0]['score'] == pytest.approx(float(scores.max()), abs=1e-6)
    assert not list(out.glob('*_pred.png'))  # no label maps for a classifier
