"""Every segmentor skeleton in ``configs/_base_/models`` builds and trains one step.

Each file is loaded with mmengine's ``Config``, its heads get ``NUM_CLASSES`` classes, the
model is built from the segtools registry and ``model.train_step`` runs one SGD step on a
batch of two 64x64 uint8 images packed by the model's own data preprocessor. The step must
give a finite loss, log the decode (and auxiliary) losses and move the weights of the
classifier and of the backbone. The set of files is whatever the folder holds, and a second
test pins the names the configs contract promises, so a missing or renamed skeleton fails.
"""

import copy
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

from segtools.registry import MODELS
from segtools.structures import SegDataSample
from segtools.utils import register_all_modules

MODELS_DIR = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'models'
# The segmentor skeletons. The ImageClassifier ones (resnet50_imagenet, resnest50_imagenet,
# deepten_r50) train a step in test_classification_configs.py, through the leaf configs built on them.
MODEL_CONFIGS = [p for p in sorted(MODELS_DIR.glob('*.py')) if Config.fromfile(p).model.type != 'ImageClassifier']
# The skeletons every leaf config may inherit (the fixed names of the configs contract).
CONTRACT_NAMES = (
    'fcn_r18-d8',
    'fcn_r50-d8',
    'pspnet_r50-d8',
    'deeplabv3_r50-d8',
    'danet_r50-d8',
    'encnet_r50-d8',
    'fastfcn_r50-d32_jpu_psp',
    'fastfcn_r50-d32_jpu_enc',
    'fastfcn_r50-d32_jpu_aspp',
    'upernet_r50',
    'fcfpn_r50',
    'dranet_r50-d8',
    'atten_wrn38-d8',
)
HEAD_KEYS = ('decode_head', 'auxiliary_head')
NUM_CLASSES = 5
BATCH = 2
SIZE = 64
IGNORE_INDEX = 255


def test_every_contract_skeleton_exists():
    present = {path.stem for path in MODEL_CONFIGS}
    missing = sorted(set(CONTRACT_NAMES) - present)
    assert not missing, f'configs/_base_/models lacks {missing}'
    assert len(MODEL_CONFIGS) >= len(CONTRACT_NAMES)


def head_cfgs(model_cfg: dict) -> list[dict]:
    """The decode and auxiliary head configs of a model config (either may be a list)."""
    heads = []
    for key in HEAD_KEYS:
        value = model_cfg.get(key)
        if value is None:
            continue
        heads.extend(value if isinstance(value, list | tuple) else [value])
    return heads


def small_model_cfg(path: Path) -> dict:
    """The config's ``model`` with every head set to ``NUM_CLASSES`` classes and no ImageNet weights.

    ``pretrained`` (a ``segtools://`` name) is dropped so ``init_weights`` stays offline.
    """
    model_cfg = copy.deepcopy(Config.fromfile(path).model)
    model_cfg['pretrained'] = None
    heads = head_cfgs(model_cfg)
    assert heads, f'{path.name}: model has no decode_head'
    for head in heads:
        assert 'num_classes' in head, f'{path.name}: head {head.get("type")} has no num_classes'
        head['num_classes'] = NUM_CLASSES
    return model_cfg


def batch() -> dict:
    """Two uint8 BGR images and their label maps, as a dataloader would yield them."""
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(BATCH):
        inputs.append(torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8, generator=gen))
        label = torch.randint(0, NUM_CLASSES, (1, SIZE, SIZE), generator=gen)
        label[:, :4] = IGNORE_INDEX
        sample = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=[p.stem for p in MODEL_CONFIGS])
def test_base_model_trains_one_iteration(path):
    assert len(MODEL_CONFIGS) > 0
    register_all_modules()
    model_cfg = small_model_cfg(path)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('segtools'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    assert model.decode_head.num_classes == NUM_CLASSES

    before = {name: param.detach().clone() for name, param in model.named_parameters()}
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    log_vars = model.train_step(batch(), optim_wrapper)

    loss = torch.as_tensor(log_vars['loss']).detach()
    assert math.isfinite(float(loss)), f'{path.name}: loss {loss}'
    assert any(key.startswith('decode.') and 'loss' in key for key in log_vars), sorted(log_vars)
    if model_cfg.get('auxiliary_head') is not None:
        assert any(key.startswith('aux') and 'loss' in key for key in log_vars), sorted(log_vars)
    changed = {name for name, param in model.named_parameters() if not torch.equal(param, before[name])}
    assert 'decode_head.conv_seg.weight' in changed, f'{path.name}: the classifier did not move'
    assert any(name.startswith('backbone.') for name in changed), f'{path.name}: no backbone weight moved'
    assert all(torch.isfinite(param).all() for param in model.parameters())
