"""Mixup: lambda ~ Beta(alpha, alpha) from torch's RNG, images and one-hot targets mixed alike."""

import pytest
import torch
from mmengine.registry import DefaultScope

from segtools.models.batch_augments import Mixup
from segtools.registry import MODELS

from .conftest import NUM_CLASSES


def test_images_and_targets_are_the_same_convex_combination(batch):
    inputs, samples = batch
    targets = torch.stack([s.gt_score for s in samples])
    mixup = Mixup(alpha=0.4)
    torch.manual_seed(3)
    lam, perm = mixup.sample_params(len(samples))
    torch.manual_seed(3)
    mixed, out = mixup(inputs, samples)
    assert 0 < lam < 1 and sorted(perm.tolist()) == list(range(len(samples)))
    assert torch.equal(mixed, lam * inputs + (1 - lam) * inputs[perm])
    mixed_targets = torch.stack([s.gt_score for s in out])
    assert torch.equal(mixed_targets, lam * targets + (1 - lam) * targets[perm])
    torch.testing.assert_close(mixed_targets.sum(dim=1), torch.ones(len(samples)))
    # Each target puts lam on its own class and 1 - lam on its partner's (lam + (1 - lam) when they share one).
    for i, sample in enumerate(out):
        own, partner = int(sample.gt_label), int(samples[int(perm[i])].gt_label)
        expected = torch.zeros(NUM_CLASSES)
        expected[own] += lam
        expected[partner] += 1 - lam
        torch.testing.assert_close(sample.gt_score, expected)


def test_draws_follow_torch_seed():
    mixup = Mixup(alpha=1.0)
    torch.manual_seed(0)
    first = [mixup.sample_params(4) for _ in range(3)]
    torch.manual_seed(0)
    again = [mixup.sample_params(4) for _ in range(3)]
    assert [(lam, perm.tolist()) for lam, perm in first] == [(lam, perm.tolist()) for lam, perm in again]
    assert len({lam for lam, _ in first}) == 3


def test_lambda_has_the_beta_mean_and_spread():
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)).
    alpha = 0.2
    mixup = Mixup(alpha=alpha)
    torch.manual_seed(0)
    lams = torch.tensor([mixup.sample_params(2)[0] for _ in range(4000)], dtype=torch.float64)
    assert abs(lams.mean().item() - 0.5) < 0.03
    assert abs(lams.var().item() - 1 / (4 * (2 * alpha + 1))) < 0.02


@pytest.mark.parametrize('alpha', [0, -1.0, True])
def test_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError, match='alpha must be a positive number'):
        Mixup(alpha=alpha)


def test_samples_need_soft_targets(batch):
    inputs, samples = batch
    del samples[2].gt_score
    with pytest.raises(ValueError, match=r'samples \[2\] have no gt_score.*num_classes'):
        Mixup(alpha=1.0)(inputs, samples)
    with pytest.raises(ValueError, match='6 images but 5 data samples'):
        Mixup(alpha=1.0)(inputs, samples[:5])


def test_registered():
    with DefaultScope.overwrite_default_scope('segtools'):
        assert isinstance(MODELS.build(dict(type='Mixup', alpha=0.2)), Mixup)
    with pytest.raises(TypeError, match='alpah'):
        MODELS.build(dict(type='Mixup', alpah=0.2))
