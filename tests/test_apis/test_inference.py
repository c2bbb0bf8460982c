"""segtools.apis: init_model, inference_model, show_result, save_prediction_png on the demo config."""

import copy
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from torch import nn

from segtools.apis import inference_model, init_model, revert_sync_batchnorm, save_prediction_png, show_result
from segtools.apis.inference import ImageReadError
from segtools.apis.pipeline import build_inference_pipelines
from segtools.datasets.brain_atlas import BrainAtlasDataset
from segtools.errors import SegtoolsError
from segtools.models.layers.sync_bn import SyncBatchNorm
from segtools.registry import MODELS
from segtools.utils import register_all_modules
from segtools.weights import UnsafeCheckpointError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'
VAL = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'val'
IMAGES = [VAL / 'colin27_axial_057.png', VAL / 'colin27_axial_066.png']
NUM_CLASSES = len(BrainAtlasDataset.METAINFO['classes'])
META = dict(classes=BrainAtlasDataset.METAINFO['classes'], palette=BrainAtlasDataset.METAINFO['palette'])


def _random_state_dict(cfg_options: dict | None = None, seed: int = 0) -> dict[str, torch.Tensor]:
    """Weights of the demo model, every one (BN statistics too) moved away from its initial value.

    Zero-mean noise keeps the network input-dependent: its predictions on the demo images
    hold several classes, so comparing them is not vacuous.
    """
    register_all_modules()
    cfg = Config.fromfile(str(DEMO))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    generator = torch.Generator().manual_seed(seed)

    def perturb(key: str, value: torch.Tensor) -> torch.Tensor:
        if not value.is_floating_point():
            return value + 3
        if key.endswith('running_var'):
            return value * (0.5 + torch.rand(value.shape, generator=generator))
        return value + 0.1 * torch.randn(value.shape, generator=generator)

    return {key: perturb(key, value) for key, value in MODELS.build(cfg.model).state_dict().items()}


def _save(path: Path, state: dict, meta: dict | None = META) -> Path:
    torch.save({'state_dict': state, 'meta': {'dataset_meta': meta}} if meta is not None else state, path)
    return path


@pytest.fixture(scope='module')
def weights() -> dict[str, torch.Tensor]:
    return _random_state_dict()


@pytest.fixture(scope='module')
def model(weights, tmp_path_factory):
    checkpoint = _save(tmp_path_factory.mktemp('ckpt') / 'demo.pth', weights)
    return init_model(DEMO, checkpoint, device='cpu')


def _pred(sample) -> np.ndarray:
    return sample.pred_sem_seg.data.cpu().numpy()


# ------------------------------------------------------------------ init_model
def test_init_model_loads_weights_exactly(model, weights):
    own = model.state_dict()
    assert sorted(own) == sorted(weights)
    for key, value in weights.items():
        assert torch.equal(own[key], value), key
    assert not model.training
    assert isinstance(model.cfg, Config)
    assert model.dataset_meta['classes'] == META['classes']
    assert [list(c) for c in model.dataset_meta['palette']] == META['palette']


def test_init_model_bare_state_dict_takes_meta_from_config(weights, tmp_path):
    cfg = Config.fromfile(str(DEMO))
    checkpoint = _save(tmp_path / 'bare.pth', {f'module.{k}': v for k, v in weights.items()}, meta=None)
    slide = dict(mode='slide', crop_size=(96, 96), stride=(64, 64))
    model = init_model(cfg, checkpoint, device='cpu', cfg_options={'model.test_cfg': slide})
    assert torch.equal(model.state_dict()['decode_head.conv_seg.weight'], weights['decode_head.conv_seg.weight'])
    assert model.dataset_meta['classes'] == BrainAtlasDataset.METAINFO['classes']
    # cfg_options reach the model, not the caller's config.
    assert model.test_cfg['mode'] == model.cfg.model.test_cfg.mode == 'slide'
    assert cfg.model.test_cfg.mode == 'whole'
    assert _pred(inference_model(model, IMAGES[0])).shape == (1, 217, 181)


def test_init_model_refuses_code_executing_checkpoint(tmp_path):
    marker = tmp_path / 'pwned'

    class RunsCode:
        def __reduce__(self):
            return os.system, (f'touch {marker}',)

    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': RunsCode()}, evil)
    with pytest.raises(UnsafeCheckpointError, match='Refusing to load checkpoint'):
        init_model(DEMO, evil, device='cpu')
    assert not marker.exists()


def test_init_model_names_a_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        init_model(DEMO, tmp_path / 'nowhere.pth', device='cpu')


def test_init_model_class_count_of_checkpoint_meta_must_match(weights, tmp_path):
    meta = dict(classes=META['classes'][:5], palette=META['palette'][:5])
    checkpoint = _save(tmp_path / 'five.pth', weights, meta=meta)
    with pytest.raises(ValueError, match=r'lists 5 classes but the decode head .* predicts 12'):
        init_model(DEMO, checkpoint, device='cpu')


def test_init_model_class_count_of_config_dataset_must_match(tmp_path):
    options = {'model.decode_head.num_classes': 5, 'model.auxiliary_head.num_classes': 5}
    checkpoint = _save(tmp_path / 'five.pth', _random_state_dict(options), meta=None)
    with pytest.raises(ValueError, match=r'BrainAtlasDataset.METAINFO .* lists 12 classes .* predicts 5'):
        init_model(DEMO, checkpoint, device='cpu', cfg_options=options)
    # Naming the classes in the config resolves it.
    named = {**options, 'test_dataloader.dataset.metainfo.classes': list(META['classes'][:5])}
    model = init_model(DEMO, checkpoint, device='cpu', cfg_options=named)
    assert model.dataset_meta['classes'] == META['classes'][:5]
    assert [list(c) for c in model.dataset_meta['palette']] == META['palette'][:5]


def test_init_model_names_weights_of_the_wrong_shape(tmp_path):
    options = {'model.decode_head.num_classes': 5, 'model.auxiliary_head.num_classes': 5}
    checkpoint = _save(tmp_path / 'five.pth', _random_state_dict(options))
    expected = r'decode_head\.conv_seg\.weight \(5, 64, 1, 1\) in the checkpoint vs \(12, 64, 1, 1\) in the model'
    with pytest.raises(ValueError, match=expected):
        init_model(DEMO, checkpoint, device='cpu')


def test_init_model_missing_weights(weights, tmp_path):
    no_backbone = {k: v for k, v in weights.items() if k != 'backbone.stem.0.weight'}
    with pytest.raises(ValueError, match=r'1 missing from the checkpoint: backbone\.stem\.0\.weight$'):
        init_model(DEMO, _save(tmp_path / 'a.pth', no_backbone), device='cpu')
    no_aux = {k: v for k, v in weights.items() if not k.startswith('auxiliary_head.')}
    with pytest.warns(UserWarning, match='auxiliary heads'):
        init_model(DEMO, _save(tmp_path / 'b.pth', no_aux), device='cpu')


def test_init_model_without_known_dataset_warns_and_names_classes_generically():
    with pytest.warns(UserWarning, match='class_0..class_11'):
        model = init_model(DEMO, device='cpu', cfg_options={'test_dataloader.dataset.type': 'NoSuchDataset'})
    assert model.dataset_meta['classes'] == tuple(f'class_{i}' for i in range(NUM_CLASSES))
    assert len(model.dataset_meta['palette']) == NUM_CLASSES


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the error on a machine without CUDA')
def test_init_model_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        init_model(DEMO, device='cuda:0')


def test_revert_sync_batchnorm_keeps_statistics_and_segtools_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4), SyncBatchNorm(4, activation='relu'))
    with torch.no_grad():
        model[1].running_mean.uniform_()
        model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_()
    model.eval()
    x = torch.randn(2, 3, 5, 5)
    expected = model(x)
    reverted = revert_sync_batchnorm(model)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in reverted.modules())
    assert isinstance(reverted[2], SyncBatchNorm)
    torch.testing.assert_close(reverted(x), expected)


# ------------------------------------------------------------- inference_model
def test_inference_model_path_array_and_list_agree(model, monkeypatch):
    from_path = inference_model(model, IMAGES[0])
    pred = _pred(from_path)
    height, width = cv2.imread(str(IMAGES[0])).shape[:2]
    assert pred.shape == (1, height, width)
    assert from_path.seg_logits.data.shape == (NUM_CLASSES, height, width)
    assert pred.min() >= 0 and pred.max() < NUM_CLASSES
    assert len(np.unique(pred)) >= 3  # an input-dependent prediction: the comparisons below mean something
    again = inference_model(model, str(IMAGES[0]))
    np.testing.assert_array_equal(_pred(again), pred)  # deterministic
    torch.testing.assert_close(again.seg_logits.data, from_path.seg_logits.data, rtol=0, atol=0)

    array = cv2.imread(str(IMAGES[0]))
    np.testing.assert_array_equal(_pred(inference_model(model, array)), pred)
    gray = cv2.imread(str(IMAGES[0]), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(_pred(inference_model(model, gray)), pred)

    # A list mixing a path, an array and a smaller image: each prediction at its own size, the
    # two images of one size in one forward pass, the small one alone (never padded to the others).
    small = cv2.resize(cv2.imread(str(IMAGES[1])), (120, 100))
    batches = []
    test_step = model.test_step
    monkeypatch.setattr(model, 'test_step', lambda data: batches.append(len(data['inputs'])) or test_step(data))
    batch = inference_model(model, (IMAGES[0], small, cv2.imread(str(IMAGES[1]))), batch_size=3)
    monkeypatch.undo()
    assert sorted(batches) == [1, 2]
    assert isinstance(batch, list) and len(batch) == 3
    batch = [batch[0], batch[2], batch[1]]
    np.testing.assert_array_equal(_pred(batch[0]), pred)
    # Batched convolutions round differently; the random weights make logits of order 1e6.
    scale = from_path.seg_logits.data.abs().max().item()
    torch.testing.assert_close(batch[0].seg_logits.data, from_path.seg_logits.data, rtol=0, atol=1e-5 * scale)
    np.testing.assert_array_equal(_pred(batch[1]), _pred(inference_model(model, IMAGES[1])))
    assert _pred(batch[2]).shape == (1, 100, 120)
    np.testing.assert_array_equal(_pred(batch[2]), _pred(inference_model(model, small)))


def test_inference_model_names_missing_and_unreadable_images(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.png'):
        inference_model(model, [IMAGES[0], tmp_path / 'absent.png'])
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(ImageReadError, match='broken.png') as info:
        inference_model(model, broken)
    assert isinstance(info.value, SegtoolsError | ValueError)
    with pytest.raises(ValueError, match=r'image #0 \(array of shape \(2, 3, 5, 7\)\)'):
        inference_model(model, np.zeros((2, 3, 5, 7), dtype=np.uint8))


@pytest.mark.filterwarnings('ignore:.*assuming 12-bit data')
def test_twelve_bit_file_and_array_give_the_input_and_prediction_of_the_eight_bit_image(model, tmp_path):
    # The 8-bit slice stored as 12-bit data (x 4095/255) in a 16-bit PNG, as an MRI export:
    # scaled by its depth it is the 8-bit slice again (OpenCV's 8-bit decode would give 0..15).
    eight = cv2.imread(str(IMAGES[0]), cv2.IMREAD_GRAYSCALE)
    twelve = np.rint(eight.astype(np.float64) * 4095 / 255).astype(np.uint16)
    path = tmp_path / 'slice12.png'
    assert cv2.imwrite(str(path), twelve)
    from_file, from_array = build_inference_pipelines(model.cfg)
    expected = from_file(dict(img_path=str(IMAGES[0])))['inputs']
    assert torch.equal(from_file(dict(img_path=str(path)))['inputs'], expected)
    assert torch.equal(from_array(dict(img=twelve))['inputs'], expected)

    pred = inference_model(model, IMAGES[0])
    for image in (path, twelve):
        result = inference_model(model, image)
        np.testing.assert_array_equal(_pred(result), _pred(pred))
        # The overlay is drawn on the image as the model saw it, not on a black one.
        np.testing.assert_array_equal(
            show_result(model, image, result, with_labels=False), show_result(model, IMAGES[0], pred, with_labels=False)
        )


def test_array_pipeline_scales_like_the_configs_file_loader(model, tmp_path):
    # A window set on the config's LoadImageFromFile applies to arrays too.
    twelve = np.linspace(0, 4095, 64 * 48, dtype=np.float64).reshape(48, 64).astype(np.uint16)
    path = tmp_path / 'window.png'
    assert cv2.imwrite(str(path), twelve)
    cfg = copy.deepcopy(model.cfg)
    cfg.test_pipeline[0]['value_range'] = (1000, 3000)
    from_file, from_array = build_inference_pipelines(cfg)
    windowed = from_file(dict(img_path=str(path)))['inputs']
    assert torch.equal(from_array(dict(img=twelve))['inputs'], windowed)
    assert windowed.min() == 0 and windowed.max() == 255 and (windowed == 0).float().mean() > 0.2


# ---------------------------------------------------------- drawing and saving
def test_show_result_blends_palette_and_writes_out_file(model, tmp_path):
    result = inference_model(model, IMAGES[0])
    out_file = tmp_path / 'sub' / 'overlay.png'
    overlay = show_result(model, IMAGES[0], result, opacity=0.3, with_labels=False, out_file=out_file)
    image = cv2.imread(str(IMAGES[0]))[..., ::-1].astype(np.float32)
    colors = np.asarray(META['palette'], dtype=np.float32)[_pred(result)[0]]
    expected = np.clip(np.round(0.7 * image + 0.3 * colors), 0, 255).astype(np.uint8)
    assert overlay.shape == (*image.shape[:2], 3) and overlay.dtype == np.uint8
    np.testing.assert_array_equal(overlay, expected)
    np.testing.assert_array_equal(cv2.imread(str(out_file))[..., ::-1], overlay)
    assert not [p for p in out_file.parent.iterdir() if p.name != 'overlay.png']  # no temporary left behind

    # With labels the names are drawn, on the same size; an array input gives the same drawing.
    labelled = show_result(model, cv2.imread(str(IMAGES[0])), result, opacity=0.3)
    assert labelled.shape == overlay.shape and not np.array_equal(labelled, overlay)
    np.testing.assert_array_equal(labelled, show_result(model, IMAGES[0], result, opacity=0.3))


def test_save_prediction_png_holds_class_ids_and_palette(model, tmp_path):
    result = inference_model(model, IMAGES[1])
    out_file = tmp_path / 'pred.png'
    save_prediction_png(model, result, out_file)
    with Image.open(out_file) as png:
        assert png.mode == 'P'
        np.testing.assert_array_equal(np.array(png), _pred(result)[0])
        palette = np.array(png.getpalette()[: 3 * NUM_CLASSES]).reshape(-1, 3)
    np.testing.assert_array_equal(palette, META['palette'])


# ------------------------------------------------------------------ init_model: MMSegmentation's layout
PSP_DEMO = f"""
_base_ = {str(DEMO)!r}
model = dict(
    decode_head=dict(
        _delete_=True, type='PSPHead', in_channels=256, in_index=3, channels=32, pool_scales=(1, 2, 3, 6),
        num_classes=12, norm_cfg=dict(type='SyncBN', requires_grad=True), align_corners=False,
    )
)
"""


def test_init_model_renames_an_mmseg_checkpoint_and_says_so(tmp_path, monkeypatch):
    from segtools.apis import model_loading

    logged = []
    monkeypatch.setattr(model_loading, 'print_log', lambda msg, **kwargs: logged.append(msg))
    config = tmp_path / 'psp_demo.py'
    config.write_text(PSP_DEMO)
    register_all_modules()
    generator = torch.Generator().manual_seed(0)
    state = {
        key: value + 0.1 * torch.randn(value.shape, generator=generator) if value.is_floating_point() else value
        for key, value in MODELS.build(Config.fromfile(str(config)).model).state_dict().items()
    }
    # mmseg's PPM branch i is (pool, ConvModule) at psp_modules.i; segtools' at psp.branches.i.conv.
    mmseg_layout = {re.sub(r'\.psp\.branches\.(\d)\.conv\.', r'.psp_modules.\1.1.', k): v for k, v in state.items()}
    assert 'decode_head.psp_modules.3.1.bn.running_var' in mmseg_layout and len(mmseg_layout) == len(state)
    checkpoint = _save(tmp_path / 'mmseg_psp.pth', mmseg_layout)
    model = init_model(config, checkpoint, device='cpu')
    own = model.state_dict()
    assert all(torch.equal(own[key], value) for key, value in state.items())
    assert logged == [
        f"checkpoint {checkpoint} is in MMSegmentation's layout: 24 keys renamed to segtools' (the conversion of "
        'tools/model_converters/mmseg2segtools.py --arch psp)'
    ]
    # Without the auxiliary head (inference never runs it) the renamed weights fit too.
    no_aux = {k: v for k, v in mmseg_layout.items() if not k.startswith('auxiliary_head.')}
    with pytest.warns(UserWarning, match='auxiliary heads'):
        init_model(config, _save(tmp_path / 'no_aux.pth', no_aux), device='cpu')
    # Another class count fits neither way: the usual error, in the checkpoint's own names.
    five = {k: v[:5] if 'conv_seg' in k else v for k, v in mmseg_layout.items()}
    with pytest.raises(ValueError, match=r'missing from the checkpoint: decode_head\.psp\.branches\.0'):
        init_model(config, _save(tmp_path / 'five.pth', five), device='cpu')
