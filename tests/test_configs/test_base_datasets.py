"""The dataset base configs load, name registered types and run their pipelines on a synthetic sample.

Each segmentation config under ``configs/_base_/datasets`` is loaded with mmengine's ``Config``; its
train/test/TTA pipelines are built with the segtools ``TRANSFORMS`` registry and applied
to a small random image and a label PNG written to ``tmp_path`` (the sample dict is the
one ``BaseSegDataset`` would produce), so a wrong transform argument, a stale pipeline in
an inherited config or a TTA that yields the wrong views fails here rather than on a
cluster.
"""

import inspect
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose

import segtools.registry as registry
from segtools.utils import register_all_modules

CONFIG_ROOT = Path(__file__).resolve().parents[2] / 'configs'
ALL_DATASET_CONFIGS = sorted((CONFIG_ROOT / '_base_' / 'datasets').glob('*.py'))
# The segmentation bases: their samples are packed by PackSegInputs. The recognition bases
# (imagenet, minc: PackClsInputs) run their pipelines in test_classification_configs.py, through
# every leaf config that uses them.
DATASET_CONFIGS = [p for p in ALL_DATASET_CONFIGS if Config.fromfile(p).train_pipeline[-1]['type'] == 'PackSegInputs']
ENCODING_CONFIGS = [path for path in DATASET_CONFIGS if path.stem.startswith('encoding_')]
# The file names other configs inherit from (the contract of configs/_base_/datasets).
EXPECTED = (
    'ade20k ade20k_640x640 pascal_voc12 pascal_voc12_aug pascal_context pascal_context_59 cityscapes '
    'cityscapes_769x769 coco-stuff164k brain_atlas encoding_ade20k encoding_pascal_context_59 '
    'encoding_pascal_voc12_aug encoding_pascal_voc12 encoding_coco21 encoding_cityscapes'
).split()
SPLITS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
IGNORE = 255
ORI_SHAPE = (60, 80)  # (h, w) of the synthetic sample: small, and not square


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


@pytest.fixture(scope='module', autouse=True)
def _registered():
    # TestTimeAug builds its inner transforms through mmengine's root registry, which resolves
    # segtools' LoadAnnotations/PackSegInputs/RandomFlip only under the 'segtools' default scope.
    register_all_modules()


def _pipeline_types(pipeline: list) -> list[str]:
    """Every transform type in a pipeline, including those nested in ``TestTimeAug``."""
    types = []
    for transform in pipeline:
        types.append(transform['type'])
        for group in transform.get('transforms', []):
            types.extend(_pipeline_types(group if isinstance(group, list) else [group]))
    return types


def _dataset_class(cfg: Config) -> type:
    return registry.DATASETS.get(cfg.train_dataloader.dataset.type)


def _reduce_zero_label(cfg: Config) -> bool:
    """What the train dataset puts in each sample: the config's value, else the class default."""
    dataset = cfg.train_dataloader.dataset
    if 'reduce_zero_label' in dataset:
        return bool(dataset.reduce_zero_label)
    parameter = inspect.signature(_dataset_class(cfg).__init__).parameters.get('reduce_zero_label')
    return bool(parameter.default) if parameter is not None else False


def _sample(tmp_path: Path, cfg: Config) -> dict:
    """A random RGB JPEG and a label PNG holding valid raw ids, as ``BaseSegDataset.get_data_info`` gives them.

    Returns:
        The results dict: ``img_path``, ``seg_map_path``, ``label_map``, ``reduce_zero_label``,
        ``seg_fields``, ``num_classes``, ``ignore_index``.
    """
    num_classes = len(_dataset_class(cfg).METAINFO['classes'])
    reduce = _reduce_zero_label(cfg)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(*ORI_SHAPE, 3), dtype=np.uint8)
    # Raw ids: 0..num_classes with 0 = unlabelled for reduce_zero_label datasets, else 0..num_classes-1 and 255.
    raw_ids = np.arange(num_classes + 1) if reduce else np.append(np.arange(num_classes), IGNORE)
    label = rng.choice(raw_ids, size=ORI_SHAPE).astype(np.uint8)
    img_path, seg_map_path = tmp_path / 'img.jpg', tmp_path / 'seg.png'
    mmcv.imwrite(img, str(img_path))
    mmcv.imwrite(label, str(seg_map_path))
    return dict(
        img_path=str(img_path),
        seg_map_path=str(seg_map_path),
        label_map=None,
        reduce_zero_label=reduce,
        seg_fields=[],
        num_classes=num_classes,
        ignore_index=IGNORE,
    )


def _compose(pipeline: list) -> Compose:
    return Compose([registry.TRANSFORMS.build(ConfigDict(transform)) for transform in pipeline])


def _check_labels(gt: torch.Tensor, num_classes: int) -> None:
    values = set(gt.unique().tolist())
    assert values <= set(range(num_classes)) | {IGNORE}, f'labels {sorted(values)} outside 0..{num_classes - 1}, 255'


def _long_side_of_resize(transform: dict) -> int:
    scale = transform['scale']
    assert scale[0] == scale[1], f'{transform}: the encoding recipe resizes the long side, scale must be square'
    return scale[0]


def test_the_dataset_configs_are_there():
    assert len(DATASET_CONFIGS) >= 16
    packs = {Config.fromfile(p).train_pipeline[-1]['type'] for p in ALL_DATASET_CONFIGS}
    assert packs == {'PackSegInputs', 'PackClsInputs'}, f'a dataset base packs with neither: {packs}'
    missing = sorted(set(EXPECTED) - {path.stem for path in DATASET_CONFIGS})
    assert not missing, f'configs/_base_/datasets lacks {missing}'
    assert len(ENCODING_CONFIGS) == 6


@pytest.mark.parametrize('path', DATASET_CONFIGS, ids=_ids(DATASET_CONFIGS))
def test_types_resolve_and_dataloaders_use_the_pipelines(path):
    cfg = Config.fromfile(path)
    for split in SPLITS:
        loader = cfg[split]
        assert registry.DATASETS.get(loader.dataset.type) is not None, f'{split}.dataset.type {loader.dataset.type!r}'
        assert registry.DATA_SAMPLERS.get(loader.sampler.type) is not None, loader.sampler.type
    for key in ('val_evaluator', 'test_evaluator'):
        assert registry.METRICS.get(cfg[key].type) is not None and list(cfg[key].iou_metrics) == ['mIoU']
    for key in ('train_pipeline', 'test_pipeline', 'tta_pipeline'):
        for name in _pipeline_types(cfg[key]):
            assert registry.TRANSFORMS.get(name) is not None, f'{path.name}: {key} names unregistered {name!r}'
    # An inherited config that redefines a pipeline must put it back into the dataloaders
    # (mmengine does not re-evaluate the base file's variables).
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.val_dataloader.dataset.pipeline == cfg.test_pipeline
    assert cfg.test_dataloader.dataset.pipeline == cfg.test_pipeline
    crops = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert len(crops) == 1 and tuple(crops[0].crop_size) == tuple(cfg.crop_size)
    assert cfg.img_ratios == sorted(cfg.img_ratios) and len(cfg.img_ratios) >= 6


@pytest.mark.parametrize('path', DATASET_CONFIGS, ids=_ids(DATASET_CONFIGS))
def test_train_pipeline_crops_to_at_most_the_crop_size(path, tmp_path):
    cfg = Config.fromfile(path)
    sample = _sample(tmp_path, cfg)
    packed = _compose(cfg.train_pipeline)(sample)
    inputs, data_sample = packed['inputs'], packed['data_samples']
    assert inputs.dtype == torch.uint8 and inputs.shape[0] == 3
    height, width = inputs.shape[1:]
    # Resize keeps the ratio and records its factor: the crop is the crop size or, where the
    # resized image is smaller, the whole of that side (the preprocessor pads the rest).
    scale_w, scale_h = data_sample.scale_factor
    resized = (int(ORI_SHAPE[0] * scale_h + 0.5), int(ORI_SHAPE[1] * scale_w + 0.5))
    crop_h, crop_w = cfg.crop_size
    assert (height, width) == (min(crop_h, resized[0]), min(crop_w, resized[1]))
    assert tuple(data_sample.gt_sem_seg.shape) == (height, width)
    _check_labels(data_sample.gt_sem_seg.data, sample['num_classes'])


@pytest.mark.parametrize('path', DATASET_CONFIGS, ids=_ids(DATASET_CONFIGS))
def test_test_pipeline_keeps_the_labels_at_the_original_size(path, tmp_path):
    cfg = Config.fromfile(path)
    sample = _sample(tmp_path, cfg)
    packed = _compose(cfg.test_pipeline)(sample)
    assert tuple(packed['data_samples'].gt_sem_seg.shape) == ORI_SHAPE
    assert tuple(packed['data_samples'].ori_shape) == ORI_SHAPE
    _check_labels(packed['data_samples'].gt_sem_seg.data, sample['num_classes'])
    resizes = [t for t in cfg.test_pipeline if t.type == 'Resize']
    if resizes:
        # mmcv's (w, h) scale with keep_ratio: the image fits inside it and touches one bound.
        long_bound, short_bound = max(resizes[0].scale), min(resizes[0].scale)
        long_side, short_side = max(packed['inputs'].shape[1:]), min(packed['inputs'].shape[1:])
        assert long_side <= long_bound and short_side <= short_bound
        assert long_side == long_bound or short_side == short_bound


@pytest.mark.parametrize('path', DATASET_CONFIGS, ids=_ids(DATASET_CONFIGS))
def test_tta_pipeline_yields_every_scale_and_flip(path, tmp_path):
    cfg = Config.fromfile(path)
    sample = _sample(tmp_path, cfg)
    views = _compose(cfg.tta_pipeline)(sample)
    assert len(views['inputs']) == len(views['data_samples']) == len(cfg.img_ratios) * 2
    flips = [data_sample.flip for data_sample in views['data_samples']]
    assert flips.count(True) == flips.count(False) == len(cfg.img_ratios)
    for data_sample in views['data_samples']:
        assert tuple(data_sample.gt_sem_seg.shape) == ORI_SHAPE  # metrics at the original size
    sizes = sorted({tuple(inputs.shape[1:]) for inputs in views['inputs']})
    assert len(sizes) == len(cfg.img_ratios)
    encoding = path.stem.startswith('encoding_')
    for ratio, (height, width) in zip(cfg.img_ratios, sizes, strict=True):
        if encoding:  # the long side is base_size * ratio (PyTorch-Encoding's MultiEvalModule)
            assert max(height, width) == int(cfg.base_size * ratio)
        else:  # the original image scaled by the ratio (mmseg)
            assert abs(height - ORI_SHAPE[0] * ratio) <= 1 and abs(width - ORI_SHAPE[1] * ratio) <= 1


@pytest.mark.parametrize('path', ENCODING_CONFIGS, ids=_ids(ENCODING_CONFIGS))
def test_encoding_recipe(path, tmp_path):
    cfg = Config.fromfile(path)
    assert cfg.total_batch_size == 16 and cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.sampler == dict(type='DefaultSampler', shuffle=True)
    assert cfg.train_dataloader.drop_last is True
    assert cfg.base_size == (1024 if 'cityscapes' in path.stem else 520)
    assert tuple(cfg.crop_size) == ((768, 768) if 'cityscapes' in path.stem else (480, 480))
    types = [t.type for t in cfg.train_pipeline]
    assert 'PhotoMetricDistortion' not in types  # Encoding has no photometric distortion
    (resize,) = [t for t in cfg.train_pipeline if t.type == 'RandomResize']
    assert _long_side_of_resize(resize) == cfg.base_size and tuple(resize.ratio_range) == (0.5, 2.0)
    (crop,) = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert crop.get('cat_max_ratio', 1.0) == 1.0

    sample = _sample(tmp_path, cfg)
    packed = _compose(cfg.test_pipeline)(sample)
    assert max(packed['inputs'].shape[1:]) == cfg.base_size
    # Train: the long side before cropping lies in [0.5, 2.0] x base_size.
    packed = _compose(cfg.train_pipeline)(_sample(tmp_path, cfg))
    scale_w, scale_h = packed['data_samples'].scale_factor
    long_side = max(int(ORI_SHAPE[0] * scale_h + 0.5), int(ORI_SHAPE[1] * scale_w + 0.5))
    assert cfg.base_size // 2 <= long_side <= 2 * cfg.base_size


@pytest.mark.parametrize('stem', ['ade20k', 'pascal_context_59', 'encoding_ade20k', 'encoding_pascal_context_59'])
def test_zero_label_reduction_comes_from_the_dataset(stem, tmp_path):
    # ADE20K and Pascal Context 59 ignore raw label 0; the pipelines leave that to the dataset.
    cfg = Config.fromfile(CONFIG_ROOT / '_base_' / 'datasets' / f'{stem}.py')
    assert _reduce_zero_label(cfg) is True
    assert all('reduce_zero_label' not in t for t in cfg.train_pipeline + cfg.test_pipeline)
    sample = _sample(tmp_path, cfg)
    raw = mmcv.imread(sample['seg_map_path'], flag='unchanged')
    packed = _compose(cfg.test_pipeline)(sample)
    gt = packed['data_samples'].gt_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(gt, np.where(raw == 0, IGNORE, raw.astype(np.int64) - 1))
