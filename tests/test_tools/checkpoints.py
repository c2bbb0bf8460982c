"""Checkpoints the tool tests make: a config's model with seeded noise on its weights."""

from pathlib import Path

import torch
from mmengine.config import Config

from segtools.datasets.brain_atlas import BrainAtlasDataset
from segtools.registry import MODELS
from segtools.utils import register_all_modules


def noisy_checkpoint(config: str | Path, path: Path, seed: int) -> Path:
    """Saves ``config``'s model with seeded zero-mean noise on every weight and running statistic.

    The noise makes predictions depend on the input (an initialised head predicts one class
    everywhere); the brain-atlas class names and palette go into the checkpoint's meta.
    """
    register_all_modules()
    # The initial weights too come from the seed, not from whatever earlier tests left in torch's
    # global generator (an unseeded build made the predictions depend on the test order).
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        state = MODELS.build(Config.fromfile(str(config)).model).state_dict()
    generator = torch.Generator().manual_seed(seed)
    state = {
        key: value * (0.5 + torch.rand(value.shape, generator=generator))
        if key.endswith('running_var')
        else value + 0.1 * torch.randn(value.shape, generator=generator)
        if value.is_floating_point()
        else value
        for key, value in state.items()
    }
    meta = dict(classes=BrainAtlasDataset.METAINFO['classes'], palette=BrainAtlasDataset.METAINFO['palette'])
    torch.save({'state_dict': state, 'meta': {'dataset_meta': meta}}, path)
    return path
