"""configs/encnet/encnet_r101_ade20k.py is PyTorch-Encoding's EncNet_ResNet101s_ADE recipe.

Published at 44.4 mIoU / 81.3 pixAcc with ``--backbone resnet101 --base-size 640 --crop-size 576
--aux --se-loss``, batch 16, lr 0.004 (heads x10), 180 epochs. Every one of those settings is
asserted on the merged config, and the model is built and counted against the architecture.
"""

from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segtools.registry import MODELS
from segtools.utils import register_all_modules

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'encnet' / 'encnet_r101_ade20k.py'
NUM_CLASSES = 150


@pytest.fixture(scope='module')
def cfg() -> Config:
    return Config.fromfile(CONFIG)


@pytest.fixture(scope='module')
def model(cfg: Config) -> torch.nn.Module:
    register_all_modules()
    return MODELS.build(cfg.model)


def _by_type(pipeline: list[dict], type_name: str) -> dict:
    matches = [step for step in pipeline if step['type'] == type_name]
    assert len(matches) == 1, f'expected one {type_name} in {[step["type"] for step in pipeline]}'
    return matches[0]


def test_backbone_is_dilated_resnet101s(cfg):
    backbone = cfg.model.backbone
    assert backbone.type == 'ResNetV1c'
    assert backbone.depth == 101
    # resnet101s: the deep stem of three 3x3 convs ending at 128 channels.
    assert backbone.stem_channels == 128
    # Output stride 8: layer3 and layer4 keep stride 1 and dilate by 2 and 4.
    assert tuple(backbone.strides) == (1, 2, 1, 1)
    assert tuple(backbone.dilations) == (1, 1, 2, 4)
    assert backbone.contract_dilation is True
    assert cfg.model.pretrained == 'segtools://resnet101s'


def test_sync_bn_everywhere(cfg):
    for key in ('backbone', 'decode_head', 'auxiliary_head'):
        assert cfg.model[key].norm_cfg.type == 'SyncBN', key


def test_enc_head_with_se_loss(cfg):
    head = cfg.model.decode_head
    assert head.type == 'EncHead'
    assert head.num_codes == 32
    assert head.use_se_loss is True
    assert head.add_lateral is False  # get_encnet adds laterals only for Pascal datasets
    assert head.loss_se_decode.type == 'SELoss'
    assert head.loss_se_decode.loss_weight == 0.2
    assert head.loss_decode.loss_weight == 1.0
    assert head.num_classes == NUM_CLASSES
    assert head.align_corners is True


def test_auxiliary_fcn_head_weight(cfg):
    aux = cfg.model.auxiliary_head
    assert aux.type == 'FCNHead'
    assert (aux.in_channels, aux.in_index, aux.channels) == (1024, 2, 256)
    assert aux.loss_decode.loss_weight == 0.2
    assert aux.num_classes == NUM_CLASSES
    assert aux.align_corners is True


def test_total_batch_is_16(cfg):
    assert cfg.total_batch_size == 16
    assert cfg.train_dataloader.batch_size == 4  # per process on the 4-GPU layout the name states
    assert cfg.train_dataloader.drop_last is True


def test_train_pipeline_base_640_crop_576(cfg):
    pipeline = cfg.train_dataloader.dataset.pipeline
    resize = _by_type(pipeline, 'RandomResize')
    assert tuple(resize.scale) == (640, 640)
    assert tuple(resize.ratio_range) == (0.5, 2.0)
    assert resize.keep_ratio is True
    crop = _by_type(pipeline, 'RandomCrop')
    assert tuple(crop.crop_size) == (576, 576)
    assert crop.get('cat_max_ratio', 1.0) == 1.0
    assert _by_type(pipeline, 'RandomFlip').prob == 0.5
    assert not [step for step in pipeline if step['type'] == 'PhotoMetricDistortion']
    assert tuple(cfg.model.data_preprocessor.size) == (576, 576)


def test_test_pipelines_use_base_640(cfg):
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert tuple(_by_type(loader.dataset.pipeline, 'Resize').scale) == (640, 640)
    scales = [tuple(step.scale) for step in cfg.tta_pipeline[1].transforms[0]]
    assert scales == [(int(640 * r),) * 2 for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)]
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(576, 576), stride=(384, 384))


def test_dataset_is_ade20k(cfg):
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    assert cfg.val_dataloader.dataset.type == 'ADE20KDataset'


def test_poly_schedule_lr_0004_heads_x10_180_epochs(cfg):
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'SGD'
    assert (optimizer.lr, optimizer.momentum, optimizer.weight_decay) == (0.004, 0.9, 1e-4)
    custom = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert custom['decode_head'].lr_mult == 10
    assert custom['auxiliary_head'].lr_mult == 10
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.max_epochs == 180
    # The published recipe has no warmup: one poly decay over all 180 epochs.
    assert len(cfg.param_scheduler) == 1
    poly = cfg.param_scheduler[0]
    assert poly.type == 'PolyLR'
    assert (poly.power, poly.begin, poly.end, poly.by_epoch) == (0.9, 0, 180, True)


def _conv_bn(cin: int, cout: int, k: int) -> int:
    """Parameters of a bias-free conv plus its batch norm (weight and bias)."""
    return cin * cout * k * k + 2 * cout


def _resnet101s_params() -> int:
    """ResNetV1c-101 (stem 128) without the classifier, counted from its layout."""
    stem = _conv_bn(3, 64, 3) + _conv_bn(64, 64, 3) + _conv_bn(64, 128, 3)
    total, in_ch = stem, 128
    for planes, blocks in zip((64, 128, 256, 512), (3, 4, 23, 3), strict=True):
        out = planes * 4
        for b in range(blocks):
            cin = in_ch if b == 0 else out
            total += _conv_bn(cin, planes, 1) + _conv_bn(planes, planes, 3) + _conv_bn(planes, out, 1)
            if b == 0:
                total += _conv_bn(cin, out, 1)
        in_ch = out
    return total


def _enc_head_params(num_classes: int) -> int:
    """EncHead: 3x3 2048->512, EncModule (1x1, Encoding 32x512 + 32 scales, BN1d(32), FC), SE and classifier."""
    encoding = 32 * 512 + 32
    enc_module = _conv_bn(512, 512, 1) + encoding + 2 * 32 + (512 * 512 + 512)
    linear = 512 * num_classes + num_classes
    return _conv_bn(2048, 512, 3) + enc_module + 2 * linear


def _aux_head_params(num_classes: int) -> int:
    """FCNHead: 3x3 1024->256, classifier 256->classes."""
    return _conv_bn(1024, 256, 3) + 256 * num_classes + num_classes


def test_model_builds_with_the_expected_parameter_count(model):
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert type(model.decode_head).__name__ == 'EncHead'
    assert count(model.backbone) == _resnet101s_params()
    assert count(model.decode_head) == _enc_head_params(NUM_CLASSES)
    assert count(model.auxiliary_head) == _aux_head_params(NUM_CLASSES)
    # Cross-check with an independent number: torchvision's ResNet-101 has 44,549,160 parameters;
    # without its classifier (2,049,000) and with the deep stem instead of the 7x7 one (+103,296)
    # and layer1 reading 128 channels (+20,480) the backbone has 42,623,936. With the heads
    # (10.13M + 2.40M) the whole model has about 55.2M.
    assert count(model.backbone) == 44_549_160 - 2_049_000 + 103_296 + 20_480
    assert 54_000_000 < count(model) < 56_000_000


def test_model_forward_shape(model):
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64), mode='tensor')
    # Output stride 8.
    assert logits.shape == (1, NUM_CLASSES, 8, 8)
    assert torch.isfinite(logits).all()
