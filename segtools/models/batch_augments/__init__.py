"""Batch augments of the classification preprocessor: ``augment(inputs, data_samples)`` in training."""

from .cut_mix import CutMix
from .mixing import mix_scores, mixing_rng, sample_lambda
from .mixup import Mixup

__all__ = ['CutMix', 'Mixup', 'mix_scores', 'mixing_rng', 'sample_lambda']
