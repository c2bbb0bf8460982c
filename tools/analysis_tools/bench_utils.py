"""What the benchmark scripts share: configs with random initialisation, atomically written JSON results."""

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
