"""What Mixup and CutMix share: their random stream, the mixing ratio and the soft targets."""

import numpy as np
import torch

from segtools.structures import ClsSampleList


def mixing_rng() -> np.random.Generator:
    """A generator seeded from torch's default RNG.

    numpy draws the Beta variate (torch's ``Beta`` takes no generator); seeding it from
    torch makes every draw follow ``torch.manual_seed`` (mmengine's ``randomness.seed``), so a
    seeded run repeats its mixes.
    """
    seed = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64).item())
    return np.random.default_rng(seed)


def sample_lambda(alpha: float, rng: np.random.Generator) -> float:
    """``lambda ~ Beta(alpha, alpha)``."""
    return float(rng.beta(alpha, alpha))


def check_alpha(owner: str, alpha: float) -> float:
    """Refuses a non-positive ``alpha`` (``Beta(alpha, alpha)`` needs ``alpha > 0``)."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or alpha <= 0:
        raise ValueError(f'{owner}: alpha must be a positive number (Beta(alpha, alpha)), got {alpha!r}')
    return float(alpha)


def stack_scores(owner: str, inputs: torch.Tensor, data_samples: ClsSampleList) -> torch.Tensor:
    """The samples' soft targets ``gt_score``, stacked to ``(N, num_classes)``.

    Raises:
        ValueError: If the batch and the samples differ in size or a sample has no ``gt_score``
            (``ClsDataPreProcessor(num_classes=...)`` one-hot encodes ``gt_label`` into it).
    """
    if inputs.dim() != 4:
        raise ValueError(f'{owner}: inputs must be a stacked (N, C, H, W) batch, got shape {tuple(inputs.shape)}')
    if data_samples is None or len(data_samples) != inputs.shape[0]:
        count = None if data_samples is None else len(data_samples)
        raise ValueError(f'{owner}: {inputs.shape[0]} images but {count} data samples; mixing needs the labels')
    missing = [i for i, sample in enumerate(data_samples) if 'gt_score' not in sample]
    if missing:
        raise ValueError(
            f'{owner}: samples {missing} have no gt_score; ClsDataPreProcessor(num_classes=...) one-hot encodes '
            'gt_label into gt_score before its batch_augments'
        )
    return torch.stack([sample.gt_score for sample in data_samples])


def mix_scores(scores: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    """``lam * scores + (1 - lam) * scores[perm]``: each row stays a distribution.

    Args:
        scores: Soft targets, ``(N, num_classes)``.
        lam: Weight of each sample's own target.
        perm: The partner of each sample, ``(N,)``.

    Returns:
        Mixed targets, ``(N, num_classes)``.
    """
    return lam * scores + (1 - lam) * scores[perm]


def set_scores(data_samples: ClsSampleList, scores: torch.Tensor) -> ClsSampleList:
    """Writes row ``i`` of ``scores`` into sample ``i``'s ``gt_score``."""
    for sample, score in zip(data_samples, scores, strict=True):
        sample.gt_score = score
    return data_samples
