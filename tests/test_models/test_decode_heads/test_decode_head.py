"""BaseDecodeHead takes every argument of MMSegmentation's, with its meaning, in every head; its loss
paths (fused or checkpointed) and the losses of auxiliary outputs (``aux_losses``)."""

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.decode_heads.decode_head import BaseDecodeHead
from segtools.ops import reference_ops

from .conftest import NUM_CLASSES
from .test_heads_contract import HEADS, MINIMAL, minimal

# MMSegmentation's BaseDecodeHead arguments, spelt out with non-default values where that is safe.
MMSEG_BASE = dict(
    out_channels=None,
    threshold=None,
    dropout_ratio=0.2,
    conv_cfg=None,
    act_cfg=dict(type='ReLU'),
    ignore_index=255,
    sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=16),
    align_corners=False,
    init_cfg=[dict(type='Normal', std=0.01, override=dict(name='conv_seg')), dict(type='Kaiming', layer='Conv2d')],
)


@pytest.mark.parametrize('name', HEADS)
def test_every_mmseg_base_argument(name, feats, build_head, make_samples):
    cfg, _ = minimal(name)
    head = build_head(dict(cfg, type=name, **MMSEG_BASE))
    head.init_weights()
    assert head.sampler is not None and head.sampler.context is head
    losses = head.loss(feats, make_samples(), {})
    total = sum(value for key, value in losses.items() if 'loss' in key)
    assert torch.isfinite(total)
    total.backward()


@pytest.mark.parametrize('name', HEADS)
def test_sampler_changes_every_decode_loss(name, feats, build_head, make_samples):
    cfg, _ = minimal(name)
    torch.manual_seed(0)
    plain = build_head(dict(cfg, type=name, dropout_ratio=0.0))
    sampled = build_head(dict(cfg, type=name, dropout_ratio=0.0, sampler=dict(type='OHEMPixelSampler', min_kept=8)))
    sampled.load_state_dict(plain.state_dict())
    samples = make_samples()
    with_sampler, without = sampled.loss(feats, samples, {}), plain.loss(feats, samples, {})
    assert set(with_sampler) == set(without)
    for key in without:
        if key.endswith('loss_ce'):  # 0/1 weights over the same divisor: fewer pixels, smaller loss
            assert with_sampler[key] < without[key], key


def test_binary_sigmoid_head(feats, build_head, make_samples):
    head = build_head(
        dict(
            type='FCNHead',
            in_channels=16,
            channels=8,
            num_classes=2,
            out_channels=1,
            threshold=0.4,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True),
        )
    )
    assert head.conv_seg.out_channels == 1 and head.threshold == 0.4
    samples = make_samples()
    for sample in samples:
        sample.gt_sem_seg.data[sample.gt_sem_seg.data == 2] = 1
    losses = head.loss(feats, samples, {})
    assert torch.isfinite(losses['loss_ce']) and 0 <= losses['acc_seg'] <= 100


@pytest.mark.parametrize(
    'overrides, error, match',
    [
        (dict(ignore_index=None), ValueError, 'ignore_index.*None'),
        (dict(out_channels=2), ValueError, 'out_channels'),
        (dict(sampler=dict(type='OHEMPixelSampler', thresh=2.0)), ValueError, 'sampler.thresh'),
        (dict(loss_decode=dict(type='DiceLoss'), sampler=dict(type='OHEMPixelSampler')), ValueError, 'DiceLoss'),
        (dict(input_transform='concat'), ValueError, 'input_transform'),
        (dict(dilation=0), ValueError, 'dilation'),
    ],
)
def test_refusals_name_the_key(overrides, error, match, build_head):
    with pytest.raises(error, match=match):
        build_head(dict(type='FCNHead', in_channels=16, channels=8, **overrides))


def test_resize_concat_and_multiple_select(feats, build_head):
    concat = build_head(
        dict(type='FCNHead', in_channels=[8, 12], in_index=[1, 2], channels=8, input_transform='resize_concat')
    )
    assert concat.in_channels == 20 and concat(feats).shape == (2, NUM_CLASSES, 8, 8)
    select = build_head(dict(type='UPerHead', in_channels=[4, 8], in_index=[0, 1], channels=8))
    assert select.input_transform == 'multiple_select' and select(feats).shape == (2, NUM_CLASSES, 16, 16)


OHEM = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=16)
CE = dict(type='CrossEntropyLoss')
# Head options -> whether the losses run through the fused upsampled cross-entropy (else the
# checkpointed upsample-then-loss path).
LOSS_PATHS = {
    'fused': (dict(), True),
    'fused, class weights, avg_non_ignore': (
        dict(loss_decode=dict(CE, class_weight=[0.5, 1.0, 2.0], avg_non_ignore=True)),
        True,
    ),
    'fused, two losses, align_corners': (
        dict(loss_decode=[CE, dict(CE, loss_weight=0.4, loss_name='loss_two')], align_corners=True),
        True,
    ),
    'checkpointed, sampler': (dict(sampler=OHEM), False),
    'checkpointed, Dice': (dict(loss_decode=[CE, dict(type='DiceLoss', loss_weight=0.5)]), False),
}


@pytest.mark.parametrize('path', LOSS_PATHS)
def test_full_resolution_logits_are_not_kept(path, feats, build_head, make_samples):
    """Fused or checkpointed: the losses and gradients of upsampling first, no full-resolution tensor saved."""
    options, fused = LOSS_PATHS[path]
    cfg, _ = MINIMAL['FCNHead']
    head = build_head(dict(cfg, type='FCNHead', dropout_ratio=0.0, **options)).double()
    samples = make_samples(h=64, w=64)  # 8x the logits' 8x8 size
    inputs = [f.double().requires_grad_() for f in feats]
    assert head._fuses_upsampling(head.forward(inputs)) is fused

    def run(upsample_first: bool):
        saved = []

        def pack(tensor):
            saved.append(tensor.numel())
            return tensor

        head.zero_grad()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            if upsample_first:
                logits = head.forward(inputs)
                losses = head._full_resolution_losses(logits, head._stack_batch_gt(samples))
            else:
                losses = head.loss(inputs, samples, {})
        sum(value for name, value in losses.items() if name.startswith('loss')).backward()
        grads = [p.grad.clone() for p in head.parameters() if p.grad is not None]
        return losses, grads, max(saved)

    losses, grads, largest = run(upsample_first=False)
    plain_losses, plain_grads, plain_largest = run(upsample_first=True)
    assert losses.keys() == plain_losses.keys()
    for key in losses:
        torch.testing.assert_close(losses[key].detach(), plain_losses[key].detach(), rtol=1e-12, atol=1e-12)
    for grad, plain_grad in zip(grads, plain_grads, strict=True):
        torch.testing.assert_close(grad, plain_grad, rtol=1e-12, atol=1e-12)
    full = 2 * NUM_CLASSES * 64 * 64
    assert plain_largest >= full > largest


def test_fused_losses_under_bfloat16_autocast(feats, build_head, make_samples):
    """bf16 logits: the fused loss is computed in float32 and matches upsampling first in float32."""
    cfg, _ = MINIMAL['FCNHead']
    head = build_head(dict(cfg, type='FCNHead', dropout_ratio=0.0))
    samples = make_samples(h=64, w=64)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = head.forward(feats)
        assert logits.dtype == torch.bfloat16 and head._fuses_upsampling(logits)
        losses = head.loss_by_feat(logits, samples)
    plain = head._full_resolution_losses(logits.float(), head._stack_batch_gt(samples))
    assert losses['loss_ce'].dtype == torch.float32
    torch.testing.assert_close(losses['loss_ce'], plain['loss_ce'])
    torch.testing.assert_close(losses['acc_seg'], plain['acc_seg'])


def test_without_the_kernel_the_losses_are_checkpointed(feats, build_head, make_samples):
    cfg, _ = MINIMAL['FCNHead']
    head = build_head(dict(cfg, type='FCNHead'))
    with reference_ops():
        assert not head._fuses_upsampling(head.forward(feats))
        losses = head.loss(feats, make_samples(h=64, w=64), {})
    assert losses['loss_ce'].grad_fn is not None


class TwiceSupervisedHead(BaseDecodeHead):
    """Test head: the classifier on the selected input, whose logits are also its auxiliary output ``again``."""

    aux_losses = {'again': 'decode'}

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._transform_inputs(inputs))

    def forward_with_aux(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = self.forward(inputs)
        return logits, {'again': logits}


@pytest.mark.usefixtures('build_head')  # registers the default loss
def test_a_decode_aux_output_gets_the_decode_losses_under_its_name(feats, make_samples):
    with DefaultScope.overwrite_default_scope('segtools'):
        head = TwiceSupervisedHead(16, 16, num_classes=NUM_CLASSES, in_index=3, dropout_ratio=0.0)
    losses = head.loss(feats, make_samples(), {})
    assert list(losses) == ['loss_ce', 'acc_seg', 'again.loss_ce', 'again.acc_seg']
    torch.testing.assert_close(losses['again.loss_ce'], losses['loss_ce'], rtol=0, atol=0)
    torch.testing.assert_close(losses['again.acc_seg'], losses['acc_seg'], rtol=0, atol=0)


@pytest.mark.usefixtures('build_head')
def test_an_undeclared_aux_output_is_refused(feats, make_samples):
    class UndeclaredHead(TwiceSupervisedHead):
        aux_losses = {}

    with DefaultScope.overwrite_default_scope('segtools'):
        head = UndeclaredHead(16, 16, num_classes=NUM_CLASSES, in_index=3)
    with pytest.raises(KeyError, match="returned 'again', which aux_losses does not declare"):
        head.loss(feats, make_samples(), {})


def test_aux_losses_are_checked_when_the_head_is_defined():
    with pytest.raises(TypeError, match='kinds must be one of'):

        class UnknownKindHead(TwiceSupervisedHead):
            aux_losses = {'again': 'dice'}

    with pytest.raises(TypeError, match='does not override forward_with_aux'):

        class NoAuxOutputHead(BaseDecodeHead):
            aux_losses = {'se': 'se'}

            def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
                return self.cls_seg(inputs[-1])
