"""End to end: an ImageClassifier config trained and validated by mmengine's Runner.

A tiny ImageFolderDataset is built from bundled brain-atlas slices, two classes by slice
position (inferior vs superior axial slices); ResNet-18 (narrow) -> GlobalAveragePooling ->
LinearClsHead with label smoothing and Mixup, 2 iterations of IterBasedTrainLoop, then
validation and test with TopKAccuracyMetric.
"""

import math
import os
import shutil
from pathlib import Path

import mmengine.runner  # noqa: F401  (registers mmengine's loops, hooks and optimizers)
from mmengine.config import Config
from mmengine.runner import Runner

from segtools.structures import ClsDataSample

REPO = Path(__file__).resolve().parents[3]
SLICES = REPO / 'data' / 'brain_atlas' / 'img_dir' / 'train'
CROP = 32


def make_dataset(root: Path, per_class: int = 3) -> Path:
    """Copies the lowest and highest axial slices into ``inferior/`` and ``superior/``."""
    slices = sorted(SLICES.glob('*.png'))
    assert len(slices) >= 2 * per_class, f'bundled images missing under {SLICES}'
    for name, chosen in (('inferior', slices[:per_class]), ('superior', slices[-per_class:])):
        (root / name).mkdir(parents=True)
        for path in chosen:
            shutil.copy(path, root / name / path.name)
    return root


def config(data_root: Path, work_dir: Path) -> Config:
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='ERandomCrop', crop_size=CROP),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackClsInputs'),
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='ECenterCrop', crop_size=CROP),
        dict(type='PackClsInputs'),
    ]
    dataset = dict(type='ImageFolderDataset', data_prefix=dict(img_path=str(data_root)))
    loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
    test_loader = dict(
        loader, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(dataset, pipeline=test_pipeline)
    )
    num_classes = 2
    return Config(
        dict(
            default_scope='segtools',
            work_dir=str(work_dir),
            experiment_name=f'cls_runner_{os.getpid()}',
            model=dict(
                type='ImageClassifier',
                backbone=dict(
                    type='ResNet',
                    depth=18,
                    base_channels=8,
                    stem_channels=8,
                    out_indices=(3,),
                    norm_cfg=dict(type='BN'),
                ),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=num_classes,
                    in_channels=64,
                    loss=dict(type='LabelSmoothingCrossEntropyLoss', smoothing=0.1),
                ),
                data_preprocessor=dict(
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375],
                    bgr_to_rgb=True,
                    batch_augments=[dict(type='Mixup', alpha=0.2)],
                ),
            ),
            train_dataloader=dict(
                loader,
                sampler=dict(type='InfiniteSampler', shuffle=True),
                dataset=dict(dataset, pipeline=train_pipeline),
            ),
            val_dataloader=test_loader,
            test_dataloader=test_loader,
            # PyTorch-Encoding reports top-1 and top-5; with two classes only top-1 exists.
            val_evaluator=dict(type='TopKAccuracyMetric', topk=tuple(k for k in (1, 5) if k <= num_classes)),
            test_evaluator=dict(type='TopKAccuracyMetric', topk=(1,)),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2),
            val_cfg=dict(type='ValLoop'),
            test_cfg=dict(type='TestLoop'),
            optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            param_scheduler=[dict(type='CosineAnnealingLR', T_max=2, by_epoch=False)],
            default_hooks=dict(
                logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
                checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
            ),
            log_processor=dict(by_epoch=False),
            env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo')),
            randomness=dict(seed=0),
        )
    )


def test_train_validate_and_test(tmp_path):
    data_root = make_dataset(tmp_path / 'slices')
    runner = Runner.from_cfg(config(data_root, tmp_path / 'work'))
    assert runner.train_dataloader.dataset.metainfo['classes'] == ('inferior', 'superior')
    runner.train()

    hub = runner.message_hub
    assert runner.iter == 2
    for key in ('train/loss', 'train/loss_ls'):
        assert math.isfinite(hub.get_scalar(key).current()), key
    assert 'train/acc_top1' not in hub.log_scalars  # Mixup: soft targets, no single class to score
    top1 = hub.get_scalar('val/top1').current()
    assert 0.0 <= top1 <= 100.0
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()

    metrics = runner.test()
    assert set(metrics) == {'top1', 'mean_class_acc'} and 0.0 <= metrics['top1'] <= 100.0

    # The predictions the metric saw: probabilities over the two classes, labels from the folders.
    runner.model.eval()
    batch = next(iter(runner.test_dataloader))
    out = runner.model.test_step(batch)
    assert all(isinstance(s, ClsDataSample) and s.pred_score.shape == (2,) for s in out)
    assert sorted({int(s.gt_label) for s in out}) == [0]  # sorted files: the first batch is inferior
