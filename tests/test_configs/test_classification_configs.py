"""Contract of the recognition configs: every ImageClassifier config trains a step and keeps its recipe.

The configs are found, not listed: every leaf config under ``configs/`` whose ``model.type`` is
``ImageClassifier``. Each must have an entry in :data:`RECIPES` (and every entry a config), which
states the recipe it reproduces; the facts come from ``reference/pytorch_encoding.md`` and the
upstream commands quoted in the configs (PyTorch-Encoding's imagenet.rst, resnet50_baseline.sh,
texture.rst; Gluon's ResNeSt definitions for DropBlock and dropout). Per config:

- the train/test/TTA pipelines run on a tiny image folder written to ``tmp_path`` with cv2 in the
  dataset type's own layout (the brain-atlas demo reads the slices bundled with the repository) and
  give the recipe's train and eval crops; RandAugment is there exactly when the recipe has it;
- the schedule, optimiser and batch are the recipe's (lr, weight decay, epochs, warmup, decay);
- the model is built on CPU from the config (``pretrained`` dropped: nothing is downloaded),
  initialised, given its real ``optim_wrapper`` (``build_optim_wrapper``) and trained one step with
  ``model.train_step`` on two samples of its real train pipeline, crops capped at 64 pixels (the
  recipe crops, up to 320, would cost a CPU step up to 25 times as much); the recipe switches are
  checked on that model: the no-decay parameter groups are exactly the norm and bias parameters
  when the recipe drops their decay, the last norm of every block starts at zero with last-gamma,
  Mixup (and its alpha), the loss, rectified convs, DropBlock (and the hook that ramps it), the
  final dropout;
- the configs that reproduce published weights have exactly the parameters of the layout the
  converted files load into strictly (both built on the meta device).

Threads: the module runs torch on one thread. On a shared 2-core machine OpenMP's spinning worker
threads made one 2x3x64x64 step of ResNeSt-101 take 4-27 s; on one thread it takes about 0.5 s and
ResNeSt-269 at full width about 1 s, so every model trains at its real width.
"""

import ast
import copy
import dataclasses
import logging
import math
import re
from pathlib import Path

import cv2
import mmengine.runner  # noqa: F401  (registers mmengine's hooks, loops, optimizers, schedulers)
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

import segtools.registry as registry
from segtools.datasets.imagenet import IMAGENET_WNIDS
from segtools.datasets.minc import MINC_CLASSES
from segtools.models.batch_augments import Mixup
from segtools.models.layers.drop_block import DropBlock2D
from segtools.models.layers.res_layer import BasicBlock, Bottleneck
from segtools.models.layers.rf_conv import RFConv2d
from segtools.models.losses.cross_entropy_loss import CrossEntropyLoss
from segtools.models.losses.label_smoothing_cross_entropy_loss import LabelSmoothingCrossEntropyLoss
from segtools.utils import register_all_modules

REPO = Path(__file__).resolve().parents[2]
CONFIG_ROOT = REPO / 'configs'
MODELS_DIR = CONFIG_ROOT / '_base_' / 'models'
STEP_CROP = 64  # crop side of the training step
IMAGE_SHAPE = (72, 96)  # (h, w) of the fixture images: small, not square (MINC's are square)
NORMS = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def _rel(path: Path) -> str:
    return str(path.relative_to(CONFIG_ROOT))


def _bases(path: Path) -> list[Path]:
    """The ``_base_`` files of a config, transitively."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            for base in [value] if isinstance(value, str) else value:
                base_path = (path.parent / base).resolve()
                found += [base_path, *_bases(base_path)]
    return found


def _discover() -> dict[str, Config]:
    """Every leaf config whose model is an ImageClassifier, by path relative to ``configs/``.

    Only the configs whose file or ``_base_`` files name ``ImageClassifier`` are loaded to read
    ``model.type`` (loading all ~175 leaf configs costs ~10 s on 2 cores).
    """
    found = {}
    for path in sorted(CONFIG_ROOT.rglob('*.py')):
        if '_base_' in path.parts:
            continue
        if not any('ImageClassifier' in p.read_text() for p in (path, *_bases(path))):
            continue
        cfg = Config.fromfile(path)
        if cfg.get('model', {}).get('type') == 'ImageClassifier':
            found[_rel(path)] = cfg
    return found


CONFIGS = _discover()
CLASSIFIER_CONFIGS = sorted(CONFIGS)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What a config reproduces.

    Attributes:
        backbone: Backbone type and depth.
        crops: Train and eval crop sides.
        schedule: ``(unit, length, warmup, decay)``: ``'epoch'`` or ``'iter'``, the run's length
            and warmup in that unit, ``'cos'`` or ``('step', milestones)``.
        lr: Learning rate for the config's total batch.
        weight_decay: SGD weight decay (momentum is 0.9 everywhere).
        lr_batch: The total batch the lr is for (``auto_scale_lr.base_batch_size``), ``None``
            when the config states none (the demo).
        smoothing: Label smoothing (0: plain cross entropy).
        mixup: Mixup alpha, ``None`` for no Mixup.
        no_bn_wd: No weight decay on norms and biases.
        last_gamma: The last norm of each residual block zero-initialised.
        rectify: Rectified convolutions.
        dropblock: DropBlock probability (stages 3-4), and its ramp's warmup in epochs.
        final_drop: Dropout before the classifier.
        rand_aug: RandAugment(2, 12) in the train pipeline.
        published: The classifier layout a converted published file loads into strictly.
    """

    backbone: tuple[str, int]
    crops: tuple[int, int]
    schedule: tuple
    lr: float = 0.1
    weight_decay: float = 1e-4
    lr_batch: int | None = 256
    smoothing: float = 0.0
    mixup: float | None = None
    no_bn_wd: bool = False
    last_gamma: bool = False
    rectify: bool = False
    dropblock: tuple[float, int] = (0.0, 0)
    final_drop: float = 0.0
    rand_aug: bool = False
    published: dict | None = None


def _imagenet_classifier(depth: int) -> dict:
    """segtools://resnest<depth>_imagenet: keys backbone.*, head.fc.* (the manifest's ``fits``)."""
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNeSt', depth=depth, out_indices=(3,)),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048),
    )


# ResNeSt (imagenet.rst): 270 epochs, 5 warmup, LS 0.1, Mixup 0.2, no-bn-wd, last gamma, RandAugment;
# DropBlock 0.1 at every depth and dropout 0.2 at 200/269 from Gluon's model definitions.
_RESNEST = dict(
    schedule=('epoch', 270, 5, 'cos'),
    smoothing=0.1,
    mixup=0.2,
    no_bn_wd=True,
    last_gamma=True,
    dropblock=(0.1, 5),
    rand_aug=True,
)
_R50 = dict(backbone=('ResNet', 50), crops=(224, 224))
_BOTS = dict(smoothing=0.1, mixup=0.2, last_gamma=True, no_bn_wd=True, rectify=True)
RECIPES = {
    'resnest/resnest50_8xb32-270e_imagenet.py': Recipe(
        ('ResNeSt', 50), (224, 224), **_RESNEST, published=_imagenet_classifier(50)
    ),
    'resnest/resnest101_8xb32-270e_imagenet.py': Recipe(
        ('ResNeSt', 101), (224, 256), **_RESNEST, published=_imagenet_classifier(101)
    ),
    'resnest/resnest200_8xb32-270e_imagenet.py': Recipe(
        ('ResNeSt', 200), (256, 320), **_RESNEST, final_drop=0.2, published=_imagenet_classifier(200)
    ),
    'resnest/resnest269_8xb32-270e_imagenet.py': Recipe(
        ('ResNeSt', 269), (320, 416), **_RESNEST, final_drop=0.2, published=_imagenet_classifier(269)
    ),
    # resnet50_baseline.sh, line by line.
    'resnet/resnet50_8xb32-120e_imagenet.py': Recipe(**_R50, schedule=('epoch', 120, 0, 'cos')),
    'resnet/resnet50-rectify_8xb32-120e_imagenet.py': Recipe(**_R50, schedule=('epoch', 120, 0, 'cos'), rectify=True),
    'resnet/resnet50-rectify-warmup_8xb32-120e_imagenet.py': Recipe(
        **_R50, schedule=('epoch', 120, 5, 'cos'), rectify=True
    ),
    'resnet/resnet50-rectify-warmup-nobnwd_8xb32-120e_imagenet.py': Recipe(
        **_R50, schedule=('epoch', 120, 5, 'cos'), rectify=True, no_bn_wd=True
    ),
    'resnet/resnet50-rectify-ls_8xb32-120e_imagenet.py': Recipe(
        **_R50, schedule=('epoch', 120, 0, 'cos'), rectify=True, smoothing=0.1
    ),
    'resnet/resnet50-rectify-ls-mixup_8xb32-200e_imagenet.py': Recipe(
        **_R50, schedule=('epoch', 200, 0, 'cos'), rectify=True, smoothing=0.1, mixup=0.2
    ),
    'resnet/resnet50-rectify-lastgamma_8xb32-120e_imagenet.py': Recipe(
        **_R50, schedule=('epoch', 120, 0, 'cos'), rectify=True, last_gamma=True
    ),
    'resnet/resnet50-rectify-bots_8xb32-200e_imagenet.py': Recipe(**_R50, schedule=('epoch', 200, 5, 'cos'), **_BOTS),
    'resnet/resnet50d-rectify-bots_8xb32-200e_imagenet.py': Recipe(
        ('ResNetV1d', 50), (224, 224), schedule=('epoch', 200, 5, 'cos'), **_BOTS
    ),
    'resnet/resnet50-rectify-ls-mixup-dropblock_8xb32-200e_imagenet.py': Recipe(
        **_R50, schedule=('epoch', 200, 0, 'cos'), rectify=True, smoothing=0.1, mixup=0.2, dropblock=(0.1, 0)
    ),
    'resnet/resnest50-rectify-bots-dropblock_8xb32-270e_imagenet.py': Recipe(
        ('ResNeSt', 50), (224, 224), schedule=('epoch', 270, 5, 'cos'), **_BOTS, dropblock=(0.1, 5)
    ),
    # texture.rst: batch 512 on 4 GPUs, lr 0.004, 80 epochs, x0.1 at main.py's epoch 60, wd 5e-4.
    'deepten/deepten_resnet50_4xb128-80e_minc-224.py': Recipe(
        ('ResNetV1c', 50),
        (224, 224),
        schedule=('epoch', 80, 0, ('step', [59])),
        lr=0.004,
        weight_decay=5e-4,
        lr_batch=512,
        published=dict(
            type='ImageClassifier',
            backbone=dict(type='ResNetV1c', depth=50, stem_channels=128, out_indices=(3,)),
            head=dict(type='DeepTENHead', num_classes=23, in_channels=2048, channels=128, num_codes=32),
        ),
    ),
    # The recognition demo (its own recipe, not a published one).
    'demo/deepten_r18-d8_1xb64-1500_brain-atlas-patches-48x48.py': Recipe(
        ('ResNetV1c', 18), (48, 48), schedule=('iter', 1500, 100, 'cos'), lr_batch=None, smoothing=0.1, no_bn_wd=True
    ),
}
PUBLISHED = [name for name in CLASSIFIER_CONFIGS if name in RECIPES and RECIPES[name].published is not None]


@pytest.fixture(scope='module', autouse=True)
def _registered():
    register_all_modules()


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see the module docstring
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------ data
def _write_image(path: Path, shape: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), image), path


def _imagenet_folder(root: Path) -> dict:
    """``train/<wnid>/*.JPEG`` and ``val/<wnid>/*.JPEG`` for the first two WordNet ids.

    ImageNetDataset checks for all 1000 class folders unless ``metainfo`` names a subset; the
    first two ids keep labels 0 and 1, their indices among the 1000.
    """
    classes = IMAGENET_WNIDS[:2]
    for split in ('train', 'val'):
        for i, wnid in enumerate(classes):
            _write_image(root / split / wnid / f'{wnid}_{i}.JPEG', IMAGE_SHAPE, seed=i)
    return dict(data_root=str(root), metainfo=dict(classes=list(classes)))


def _minc_folder(root: Path) -> dict:
    """``images/<class>/<class>_<id>.jpg`` (square, as MINC-2500's) and ``labels/{train,test}1.txt``."""
    lines = []
    for i, name in enumerate(MINC_CLASSES[:2]):
        rel = f'images/{name}/{name}_00000{i}.jpg'
        _write_image(root / rel, (IMAGE_SHAPE[1], IMAGE_SHAPE[1]), seed=i)
        lines.append(rel)
    (root / 'labels').mkdir()
    for split in ('train1', 'test1'):
        (root / 'labels' / f'{split}.txt').write_text('\n'.join(lines) + '\n')
    return dict(data_root=str(root))


def _brain_atlas_patches(root: Path) -> dict:
    """The slices bundled with the repository, patch centres 40 pixels apart (a few hundred samples)."""
    del root
    return dict(data_root=str(REPO / 'data' / 'brain_atlas'), stride=40)


# Dataset type -> writes its layout under a folder and returns the dataset overrides.
DATA_FIXTURES = {
    'ImageNetDataset': _imagenet_folder,
    'MINCDataset': _minc_folder,
    'BrainAtlasPatchDataset': _brain_atlas_patches,
}


@pytest.fixture(scope='module')
def data_overrides(tmp_path_factory) -> dict:
    """Dataset type -> overrides pointing the config's dataset at its tiny fixture folder."""
    return {name: write(tmp_path_factory.mktemp(name)) for name, write in DATA_FIXTURES.items()}


def _dataset(cfg: Config, split: str, overrides: dict, pipeline: list) -> object:
    dataset_cfg = copy.deepcopy(cfg[split].dataset)
    assert dataset_cfg.type in overrides, f'no fixture folder for {dataset_cfg.type}: add one to DATA_FIXTURES'
    # serialize_data=False: mmengine's serialisation runs gc.collect(), ~0.15 s per dataset here.
    dataset_cfg.update(overrides[dataset_cfg.type], pipeline=pipeline, serialize_data=False)
    return registry.DATASETS.build(dataset_cfg)


def _capped(pipeline: list) -> list:
    """The pipeline with every crop larger than :data:`STEP_CROP` made that size."""
    pipeline = copy.deepcopy(pipeline)
    for transform in pipeline:
        if transform.get('crop_size', 0) > STEP_CROP:
            transform['crop_size'] = STEP_CROP
    return pipeline


# ----------------------------------------------------------------------------------------- model
def _model_cfg(cfg: Config) -> dict:
    """The config's model without ImageNet weights (``init_weights`` stays offline)."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg['pretrained'] = None
    return model_cfg


def _build(model_cfg: dict, device: str = 'cpu') -> nn.Module:
    with torch.device(device):
        return registry.MODELS.build(copy.deepcopy(model_cfg))


def _norm_and_bias_parameters(model: nn.Module) -> set[str]:
    """Names of the parameters of norm layers and of every ``bias``: what --no-bn-wd exempts."""
    names = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            if isinstance(module, NORMS) or name == 'bias':
                names.add(f'{module_name}.{name}' if module_name else name)
    return names


def _residual_blocks(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.backbone.modules() if isinstance(m, BasicBlock | Bottleneck)]


def _check_switches(name: str, recipe: Recipe, cfg: Config, model: nn.Module, optim_wrapper) -> None:
    """The recipe's switches are real in the built model and optimiser."""
    backbone_type, depth = recipe.backbone
    assert type(model.backbone).__name__ == backbone_type and model.backbone.depth == depth, name

    # --no-bn-wd: the zero-decay groups hold exactly the norm and bias parameters.
    decay = {}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            assert id(param) not in decay, f'{name}: a parameter is in two groups'
            decay[id(param)] = group['weight_decay']
    named = dict(model.named_parameters())
    assert set(decay) == {id(p) for p in named.values()}, f'{name}: not every parameter is optimised'
    exempt = {n for n, p in named.items() if decay[id(p)] == 0.0}
    decayed = {n for n, p in named.items() if decay[id(p)] == pytest.approx(recipe.weight_decay)}
    assert exempt | decayed == set(named), f'{name}: weight decays other than 0 and {recipe.weight_decay}'
    if recipe.no_bn_wd:
        assert exempt == _norm_and_bias_parameters(model), f'{name}: the no-decay groups are not the norms and biases'
    else:
        assert not exempt, f'{name}: {sorted(exempt)[:3]} ... without weight decay'

    # --last-gamma: the last norm of every residual block starts at 0 (else at 1).
    blocks = _residual_blocks(model)
    assert blocks, name
    for block in blocks:
        expected = 0.0 if recipe.last_gamma else 1.0
        assert torch.all(block.last_norm.weight == expected), f'{name}: last norm weight not {expected}'

    # --mixup: one Mixup batch augment with the alpha; the loss takes its soft targets.
    augments = model.data_preprocessor.batch_augments
    if recipe.mixup is None:
        assert not augments, f'{name}: unexpected batch augments {augments}'
    else:
        assert len(augments) == 1 and isinstance(augments[0], Mixup), f'{name}: {augments}'
        assert augments[0].alpha == recipe.mixup, name
        assert model.head.soft_target_smoothing() == recipe.smoothing  # NLLMultiLabelSmooth(s)

    # --label-smoothing.
    loss = model.head.loss_module
    if recipe.smoothing:
        assert isinstance(loss, LabelSmoothingCrossEntropyLoss) and loss.smoothing == recipe.smoothing, (name, loss)
    else:
        assert type(loss) is CrossEntropyLoss and not loss.use_sigmoid and loss.class_weight is None, (name, loss)

    # --rectify, --dropblock-prob (stages 3-4, ramped by the hook), --final-drop.
    rectified = [m for m in model.backbone.modules() if isinstance(m, RFConv2d)]
    assert bool(rectified) == recipe.rectify, f'{name}: {len(rectified)} rectified convs'
    prob, warmup_epochs = recipe.dropblock
    drop_blocks = {n: m for n, m in model.backbone.named_modules() if isinstance(m, DropBlock2D)}
    hooks = [h for h in cfg.get('custom_hooks', []) if h.type == 'DropBlockRampHook']
    if prob:
        assert drop_blocks and all(n.startswith(('layer3.', 'layer4.')) for n in drop_blocks), name
        assert {m.ramp[3] for m in drop_blocks.values()} == {prob}, name
        assert len(hooks) == 1 and hooks[0].get('warmup_epochs', 0) == warmup_epochs, f'{name}: {hooks}'
    else:
        assert not drop_blocks and not hooks, name
    assert getattr(model.head, 'final_drop', 0.0) == recipe.final_drop, name


# ------------------------------------------------------------------------------------------ tests
def test_discovery_matches_the_recipe_table():
    assert len(CLASSIFIER_CONFIGS) >= 17, CLASSIFIER_CONFIGS
    missing = sorted(set(CLASSIFIER_CONFIGS) - set(RECIPES))
    assert not missing, f'ImageClassifier configs without a recipe in RECIPES: {missing}'
    stale = sorted(set(RECIPES) - set(CLASSIFIER_CONFIGS))
    assert not stale, f'RECIPES names configs that are gone or no longer ImageClassifiers: {stale}'
    assert len(PUBLISHED) == 5


def test_every_classifier_skeleton_trains_through_a_leaf_config():
    # test_base_models.py trains the segmentor skeletons; the classifier ones are covered here.
    skeletons = {p.resolve() for p in MODELS_DIR.glob('*.py') if Config.fromfile(p).model.type == 'ImageClassifier'}
    assert len(skeletons) >= 3
    used = {base for name in CLASSIFIER_CONFIGS for base in _bases(CONFIG_ROOT / name)}
    assert not skeletons - used, f'classifier skeletons no leaf config uses: {sorted(skeletons - used)}'


@pytest.mark.parametrize('name', CLASSIFIER_CONFIGS)
def test_pipelines_make_the_recipe_crops(name, data_overrides):
    cfg, recipe = CONFIGS[name], RECIPES[name]
    train_crop, test_crop = recipe.crops
    for split, pipeline, crop in (
        ('train_dataloader', cfg.train_dataloader.dataset.pipeline, train_crop),
        ('val_dataloader', cfg.val_dataloader.dataset.pipeline, test_crop),
        ('test_dataloader', cfg.test_dataloader.dataset.pipeline, test_crop),
    ):
        sample = _dataset(cfg, split, data_overrides, pipeline)[0]
        assert tuple(sample['inputs'].shape) == (3, crop, crop), f'{name}: {split} gives {sample["inputs"].shape}'
        assert sample['inputs'].dtype == torch.uint8 and 'gt_label' in sample['data_samples'], name
    views = _dataset(cfg, 'test_dataloader', data_overrides, cfg.tta_pipeline)[0]
    assert [tuple(v.shape) for v in views['inputs']] == [(3, test_crop, test_crop)] * 2, name
    assert [s.flip for s in views['data_samples']] == [False, True], name
    rand_aug = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandAugment']
    if recipe.rand_aug:
        assert len(rand_aug) == 1 and (rand_aug[0].n, rand_aug[0].m) == (2, 12), name
    else:
        assert not rand_aug, name


@pytest.mark.parametrize('name', CLASSIFIER_CONFIGS)
def test_schedule_optimizer_and_batch(name):
    cfg, recipe = CONFIGS[name], RECIPES[name]
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', name).groups())
    assert cfg.train_dataloader.batch_size == per_gpu, name
    assert cfg.get('total_batch_size', per_gpu) == gpus * per_gpu, name
    if recipe.lr_batch is not None:
        assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=recipe.lr_batch), name
        assert recipe.lr_batch == gpus * per_gpu  # the lr is stated for the config's own total batch
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum) == ('SGD', recipe.lr, 0.9), name
    assert optimizer.weight_decay == recipe.weight_decay, name
    paramwise = cfg.optim_wrapper.get('paramwise_cfg', {})
    expected_paramwise = dict(norm_decay_mult=0.0, bias_decay_mult=0.0) if recipe.no_bn_wd else {}
    assert dict(paramwise) == expected_paramwise, name

    unit, length, warmup, decay = recipe.schedule
    loop = cfg.train_cfg
    assert loop.type == ('EpochBasedTrainLoop' if unit == 'epoch' else 'IterBasedTrainLoop'), name
    assert loop[f'max_{unit}s'] == length, name
    assert length % loop.val_interval == 0, f'{name}: the last {unit} is not validated'
    schedulers = list(cfg.param_scheduler)
    by_epoch = unit == 'epoch'
    if warmup:
        first = schedulers.pop(0)
        assert first.type == 'LinearLR' and (first.begin, first.end) == (0, warmup), name
        assert first.by_epoch == by_epoch, name
    assert len(schedulers) == 1, name
    (main,) = schedulers
    assert (main.begin, main.end, main.by_epoch) == (warmup, length, by_epoch), name
    if decay == 'cos':
        assert main.type == 'CosineAnnealingLR' and main.T_max == length - warmup and main.eta_min == 0, name
        # Per iteration, as Encoding's LR_Scheduler (an iteration-based loop is so already).
        assert main.get('convert_to_iter_based', not by_epoch), name
    else:
        assert main.type == 'MultiStepLR' and list(main.milestones) == decay[1] and main.gamma == 0.1, name


@pytest.mark.parametrize('name', PUBLISHED)
def test_published_weights_load_strictly(name):
    # The converted file has the reference layout's keys; the config's model must have exactly those.
    model = _build(_model_cfg(CONFIGS[name]), 'meta')
    reference = _build(RECIPES[name].published, 'meta')
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    assert shapes == expected, f'{name}: missing {missing[:5]}, unexpected {unexpected[:5]}'
    assert all(k.startswith(('backbone.', 'head.')) for k in shapes), name


@pytest.mark.parametrize('name', CLASSIFIER_CONFIGS)
def test_trains_one_step_with_its_recipe(name, data_overrides):
    cfg, recipe = CONFIGS[name], RECIPES[name]
    torch.manual_seed(0)
    model = _build(_model_cfg(cfg))
    model.init_weights()
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # not one INFO line per parameter group (1358 for ResNeSt-269)
    try:
        optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    finally:
        logger.setLevel(level)
    _check_switches(name, recipe, cfg, model, optim_wrapper)

    dataset = _dataset(cfg, 'train_dataloader', data_overrides, _capped(cfg.train_dataloader.dataset.pipeline))
    batch = pseudo_collate([dataset[0], dataset[1]])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train()
    log_vars = model.train_step(batch, optim_wrapper)
    loss = float(log_vars['loss'].detach())
    assert math.isfinite(loss) and loss > 0, f'{name}: loss {loss}'
    assert model.head.loss_module.loss_name in log_vars, sorted(log_vars)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert 'head.fc.weight' in changed, f'{name}: the classifier did not move'
    assert any(n.startswith('backbone.') for n in changed), f'{name}: no backbone weight moved'
    assert all(torch.isfinite(p).all() for p in model.parameters()), name
