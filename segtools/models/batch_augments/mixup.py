"""Mixup: convex combinations of image pairs and of their labels."""

import torch

from segtools.registry import MODELS
from segtools.structures import ClsSampleList

from .mixing import check_alpha, mix_scores, mixing_rng, sample_lambda, set_scores, stack_scores


@MODELS.register_module()
class Mixup:
    """Mixes every image with a partner from the same batch ("mixup: Beyond Empirical Risk
    Minimization", Zhang et al., ICLR 2018; PyTorch-Encoding's ``MixUpWrapper``).

    One ``lambda ~ Beta(alpha, alpha)`` and one random permutation ``perm`` per batch:
    ``x_i <- lambda x_i + (1 - lambda) x_perm(i)`` and ``t_i <- lambda t_i + (1 - lambda)
    t_perm(i)``, where ``t`` are the samples' ``gt_score`` (the one-hot labels that
    ``ClsDataPreProcessor`` writes before its batch augments), so each target still sums to 1.
    The draws come from a generator seeded from torch's RNG (:func:`mixing_rng`).

    Args:
        alpha: Parameter of the Beta distribution (PyTorch-Encoding's ``--mixup``, e.g. 0.2).
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = check_alpha(type(self).__name__, alpha)

    def sample_params(self, batch_size: int) -> tuple[float, torch.Tensor]:
        """Draws ``(lambda, perm)`` for a batch, ``perm`` of shape ``(batch_size,)``."""
        rng = mixing_rng()
        lam = sample_lambda(self.alpha, rng)
        return lam, torch.from_numpy(rng.permutation(batch_size))

    def __call__(self, inputs: torch.Tensor, data_samples: ClsSampleList) -> tuple[torch.Tensor, ClsSampleList]:
        """Mixes a batch.

        Args:
            inputs: Normalised images, ``(N, C, H, W)``.
            data_samples: Samples with ``gt_score`` ``(num_classes,)``.

        Returns:
            The mixed images ``(N, C, H, W)`` and the samples with mixed ``gt_score``.
        """
        scores = stack_scores(type(self).__name__, inputs, data_samples)
        lam, perm = self.sample_params(inputs.shape[0])
        mixed = lam * inputs + (1 - lam) * inputs[perm.to(inputs.device)]
        return mixed, set_scores(data_samples, mix_scores(scores, lam, perm.to(scores.device)))

    def __repr__(self) -> str:
        return f'{type(self).__name__}(alpha={self.alpha})'
