"""CutMix: a box of each image replaced by the same box of a partner image."""

import math

import numpy as np
import torch

from segtools.registry import MODELS
from segtools.structures import ClsSampleList

from .mixing import check_alpha, mix_scores, mixing_rng, sample_lambda, set_scores, stack_scores

Box = tuple[int, int, int, int]


def cutmix_box(lam: float, height: int, width: int, rng: np.random.Generator) -> Box:
    """A box of about ``(1 - lam)`` of the image, centred uniformly and clipped to it.

    Sides ``int(H sqrt(1 - lam))`` by ``int(W sqrt(1 - lam))`` around a centre drawn
    uniformly over the pixels (the CutMix paper's and timm's ``rand_bbox``); clipping at
    the border makes the box smaller than ``1 - lam``, which :class:`CutMix` corrects.

    Returns:
        ``(top, bottom, left, right)``, end-exclusive.
    """
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = np.clip((cy - cut_h // 2, cy + cut_h // 2), 0, height)
    left, right = np.clip((cx - cut_w // 2, cx + cut_w // 2), 0, width)
    return int(top), int(bottom), int(left), int(right)


@MODELS.register_module()
class CutMix:
    """Pastes a box of a partner image into every image ("CutMix: Regularization Strategy to
    Train Strong Classifiers with Localizable Features", Yun et al., ICCV 2019).

    One ``lambda ~ Beta(alpha, alpha)``, one permutation ``perm`` and one box per batch (see
    :func:`cutmix_box`); ``x_i[box] <- x_perm(i)[box]``. ``lambda`` is then corrected to the
    part of the image actually kept, ``1 - box area / (H W)``, and the targets become
    ``lambda t_i + (1 - lambda) t_perm(i)`` of the samples' ``gt_score``. The draws come from a
    generator seeded from torch's RNG (:func:`mixing_rng`).

    Args:
        alpha: Parameter of the Beta distribution (1.0 in the CutMix paper).
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = check_alpha(type(self).__name__, alpha)

    def sample_params(self, batch_size: int, height: int, width: int) -> tuple[float, torch.Tensor, Box]:
        """Draws ``(lambda, perm, box)``: ``lambda`` already corrected to the box's real area."""
        rng = mixing_rng()
        lam = sample_lambda(self.alpha, rng)
        perm = torch.from_numpy(rng.permutation(batch_size))
        top, bottom, left, right = cutmix_box(lam, height, width, rng)
        lam = 1.0 - (bottom - top) * (right - left) / (height * width)
        return lam, perm, (top, bottom, left, right)

    def __call__(self, inputs: torch.Tensor, data_samples: ClsSampleList) -> tuple[torch.Tensor, ClsSampleList]:
        """Cuts and mixes a batch.

        Args:
            inputs: Normalised images, ``(N, C, H, W)``.
            data_samples: Samples with ``gt_score`` ``(num_classes,)``.

        Returns:
            The mixed images ``(N, C, H, W)`` and the samples with mixed ``gt_score``.
        """
        scores = stack_scores(type(self).__name__, inputs, data_samples)
        lam, perm, (top, bottom, left, right) = self.sample_params(inputs.shape[0], *inputs.shape[-2:])
        mixed = inputs.clone()
        mixed[..., top:bottom, left:right] = inputs[perm.to(inputs.device)][..., top:bottom, left:right]
        return mixed, set_scores(data_samples, mix_scores(scores, lam, perm.to(scores.device)))

    def __repr__(self) -> str:
        return f'{type(self).__name__}(alpha={self.alpha})'
