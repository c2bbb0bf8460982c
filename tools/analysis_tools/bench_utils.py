"""What the benchmark scripts share: configs with random initialisation, random labelled batches, JSON results."""

import json
import os
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def random_init_config(config: str | os.PathLike) -> Config:
    """``config`` (relative to the repository, or absolute) with pretrained weights off.

    Speed and memory do not depend on the weights, and nothing is downloaded. segtools'
    modules are registered, so the config's model builds.
    """
    from segtools.utils import register_all_modules
    from segtools.utils.config_compat import load_config

    register_all_modules()
    cfg = load_config(str(REPO / config))  # an absolute config replaces REPO
    cfg.model.pretrained = None
    cfg.model.backbone.pop('init_cfg', None)
    return cfg


def write_json(path: str | os.PathLike, data: object) -> None:
    """Writes ``data`` as indented JSON to ``path`` through a temporary file and a rename."""
    from segtools.utils.fileio import atomic_open

    with atomic_open(path, 'w') as file:
        json.dump(data, file, indent=2)


def random_samples(height: int, width: int, num_classes: int, count: int, generator) -> list:
    """``count`` ``SegDataSample``s of an ``height x width`` image with uniformly random labels.

    Timing does not depend on the content; the metainfo holds what training (``img_shape``,
    ``pad_shape``) and prediction (``ori_shape``) read.
    """
    import torch
    from mmengine.structures import PixelData

    from segtools.structures import SegDataSample

    shape = (height, width)
    samples = []
    for _ in range(count):
        sample = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, height, width), generator=generator))
        samples.append(sample)
    return samples
