"""OHEMPixelSampler: MMSegmentation's selection rule, its registry entry, its use by a decode head."""

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

import segtools.models  # noqa: F401  (registration)
from segtools.models.samplers import OHEMPixelSampler, ohem_pixel_weight
from segtools.registry import MODELS, TASK_UTILS
from segtools.structures import SegDataSample

IGNORE = 255
NUM_CLASSES = 4


def batch(n=2, h=6, w=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logit = torch.randn(n, NUM_CLASSES, h, w, generator=gen, dtype=torch.float64) * 3
    label = torch.randint(0, NUM_CLASSES, (n, h, w), generator=gen)
    label[:, 0, :2] = IGNORE
    return logit, label


def mmseg_rule(logit, label, thresh, min_kept, pixel_loss=None):
    """MMSegmentation's OHEMPixelSampler written out: sort the valid pixels, cut, keep."""
    kept_per_batch = min_kept * label.shape[0]
    valid = label != IGNORE
    weight = torch.zeros(label.shape, dtype=logit.dtype)
    valid_weight = weight[valid]
    if thresh is not None:
        prob = logit.softmax(1).gather(1, label.where(valid, 0).unsqueeze(1)).squeeze(1)
        sorted_prob = prob[valid].sort().values
        cut = sorted_prob[min(kept_per_batch, sorted_prob.numel() - 1)] if sorted_prob.numel() else 0.0
        valid_weight[prob[valid] < max(float(cut), thresh)] = 1.0
    else:
        order = pixel_loss[valid].sort(descending=True).indices
        valid_weight[order[:kept_per_batch]] = 1.0
    weight[valid] = valid_weight
    return weight


@pytest.mark.parametrize('thresh', [0.7, 0.3, 1.0])
@pytest.mark.parametrize('min_kept', [1, 4, 12, 1000])  # 1000 > valid pixels: all but the most confident
def test_threshold_rule_is_mmsegs(thresh, min_kept):
    logit, label = batch()
    weight = ohem_pixel_weight(logit, label, thresh=thresh, min_kept=min_kept, ignore_index=IGNORE)
    torch.testing.assert_close(weight, mmseg_rule(logit, label, thresh, min_kept))
    assert not weight[label == IGNORE].any()


@pytest.mark.parametrize('min_kept', [1, 7, 1000])
def test_loss_rule_keeps_the_largest_losses(min_kept):
    logit, label = batch(seed=3)
    pixel_loss = F.cross_entropy(logit, label, ignore_index=IGNORE, reduction='none')
    weight = ohem_pixel_weight(logit, label, thresh=None, min_kept=min_kept, ignore_index=IGNORE, pixel_loss=pixel_loss)
    torch.testing.assert_close(weight, mmseg_rule(logit, label, None, min_kept, pixel_loss))
    valid = label != IGNORE
    assert weight.sum() == min(2 * min_kept, valid.sum())
    assert not weight[~valid].any()


def test_all_ignored_keeps_nothing():
    logit, label = batch()
    label.fill_(IGNORE)
    for thresh in (0.7, None):
        pixel_loss = torch.zeros(label.shape, dtype=logit.dtype)
        weight = ohem_pixel_weight(logit, label, thresh=thresh, min_kept=3, ignore_index=IGNORE, pixel_loss=pixel_loss)
        assert not weight.any()


def test_single_channel_uses_the_sigmoid():
    gen = torch.Generator().manual_seed(5)
    logit = torch.randn(2, 1, 4, 4, generator=gen)
    label = torch.randint(0, 2, (2, 4, 4), generator=gen)
    weight = ohem_pixel_weight(logit, label, thresh=0.6, min_kept=1, ignore_index=IGNORE)
    prob = torch.where(label == 1, logit.sigmoid()[:, 0], 1 - logit.sigmoid()[:, 0])
    cut = max(prob.flatten().sort().values[2].item(), 0.6)
    torch.testing.assert_close(weight, (prob < cut).float())


class Context(torch.nn.Module):
    """The two things a sampler reads from its decode head."""

    def __init__(self, *loss_cfgs):
        super().__init__()
        self.ignore_index = IGNORE
        with DefaultScope.overwrite_default_scope('segtools'):
            self.loss_decode = torch.nn.ModuleList(MODELS.build(cfg) for cfg in loss_cfgs)


def test_registered_in_task_utils_and_ranks_by_the_summed_decode_losses():
    context = Context(dict(type='CrossEntropyLoss'), dict(type='CrossEntropyLoss', loss_weight=0.5, loss_name='loss_b'))
    with DefaultScope.overwrite_default_scope('segtools'):
        sampler = TASK_UTILS.build(dict(type='OHEMPixelSampler', min_kept=5), default_args=dict(context=context))
    assert isinstance(sampler, OHEMPixelSampler) and sampler.thresh is None
    logit, label = batch(seed=7)
    pixel_loss = 1.5 * F.cross_entropy(logit, label, ignore_index=IGNORE, reduction='none')
    torch.testing.assert_close(sampler.sample(logit, label.unsqueeze(1)), mmseg_rule(logit, label, None, 5, pixel_loss))


@pytest.mark.parametrize(
    'kwargs, losses, match',
    [
        (dict(thresh=1.5), [dict(type='CrossEntropyLoss')], 'thresh'),
        (dict(min_kept=0), [dict(type='CrossEntropyLoss')], 'min_kept'),
        (dict(thresh=0.7), [dict(type='DiceLoss')], 'DiceLoss.*per-pixel weight'),
        (dict(thresh=None), [dict(type='OhemCrossEntropyLoss')], 'thresh=None.*OhemCrossEntropyLoss'),
    ],
)
def test_refusals_name_the_key(kwargs, losses, match):
    with pytest.raises(ValueError, match=match):
        OHEMPixelSampler(Context(*losses), **kwargs)


def test_label_shape_is_checked():
    logit, label = batch()
    with pytest.raises(ValueError, match=r'\(N, 1, H, W\)'):
        OHEMPixelSampler(Context(dict(type='CrossEntropyLoss')), thresh=0.7).sample(logit, label)


@pytest.mark.parametrize('thresh', [0.7, None])
def test_decode_head_weights_its_loss_like_mmseg(thresh):
    """The head's loss is sum(w * ce) / all pixels, w from the sampler on the upsampled logits."""
    cfg = dict(
        type='FCNHead',
        in_channels=8,
        channels=4,
        num_convs=1,
        num_classes=NUM_CLASSES,
        dropout_ratio=0.0,
        sampler=dict(type='OHEMPixelSampler', thresh=thresh, min_kept=20),
    )
    with DefaultScope.overwrite_default_scope('segtools'):
        head = MODELS.build(cfg)
    assert head.sampler.context is head
    gen = torch.Generator().manual_seed(11)
    logits = torch.randn(2, NUM_CLASSES, 4, 4, generator=gen)
    label = torch.randint(0, NUM_CLASSES, (2, 1, 16, 16), generator=gen)
    label[:, :, :3] = IGNORE
    samples = []
    for one in label:
        sample = SegDataSample(metainfo=dict(img_shape=(16, 16)))
        sample.gt_sem_seg = PixelData(data=one)
        samples.append(sample)
    losses = head.loss_by_feat(logits, samples)
    upsampled = F.interpolate(logits, (16, 16), mode='bilinear', align_corners=False)
    pixel_ce = F.cross_entropy(upsampled, label[:, 0], ignore_index=IGNORE, reduction='none')
    weight = mmseg_rule(upsampled, label[:, 0], thresh, 20, pixel_ce).float()
    assert 0 < weight.sum() < (label != IGNORE).sum()
    torch.testing.assert_close(losses['loss_ce'], (weight * pixel_ce).sum() / label.numel())
