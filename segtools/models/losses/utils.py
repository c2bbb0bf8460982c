"""Constructor-argument checks shared by the loss modules.

They run once, at build time, so a wrong config value fails with the class and the key
named instead of deep inside the first training step.
"""

import os
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.fileio import load

REDUCTIONS = ('none', 'mean', 'sum')
WEIGHT_FILE_SUFFIXES = ('.npy', '.pkl', '.pickle', '.json', '.yaml', '.yml')


def check_loss_name(owner: str, loss_name: str) -> str:
    """Returns ``loss_name`` if it starts with ``'loss_'`` (mmengine only sums such keys).

    Raises:
        ValueError: naming ``owner`` and the key otherwise.
    """
    if not isinstance(loss_name, str) or not loss_name.startswith('loss_'):
        raise ValueError(
            f"{owner}: loss_name must start with 'loss_' (mmengine's parse_losses only sums such keys), "
            f'got {loss_name!r}'
        )
    return loss_name


def check_reduction(owner: str, reduction: str) -> str:
    """Returns ``reduction`` if it is one of ``'none'``, ``'mean'``, ``'sum'``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}')
    return reduction


def parse_class_weight(owner: str, class_weight: Sequence[float] | str | None) -> torch.Tensor | None:
    """Turns the ``class_weight`` config value into a 1-D float tensor.

    Args:
        owner: Class name, for the messages.
        class_weight: ``None``, a sequence of non-negative floats (one per class) or the
            path of a ``.npy`` file or of a ``.pkl``/``.json``/``.yaml`` file (read by
            ``mmengine.load``) holding such a sequence.

    Returns:
        ``None`` or the weights, shape ``(num_classes,)``. Their count is checked against
        the prediction's classes when the loss runs.

    Raises:
        ValueError: naming ``class_weight`` when the value is not such a list.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str | os.PathLike):
        path = os.fspath(class_weight)
        if not path.endswith(WEIGHT_FILE_SUFFIXES):
            raise ValueError(f'{owner}: a class_weight file must end with one of {WEIGHT_FILE_SUFFIXES}, got {path!r}')
        if not os.path.isfile(path):
            raise ValueError(f'{owner}: class_weight file {path!r} does not exist')
        class_weight = np.load(path) if path.endswith('.npy') else load(path)
    try:
        values = np.asarray(class_weight, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f'{owner}: class_weight must be a list of floats, got {class_weight!r}') from error
    # Checked in numpy: under `with torch.device('meta')` (building a model without memory) a
    # tensor check would need .item() on a meta tensor.
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f'{owner}: class_weight must be a non-empty 1-D list of floats, got {class_weight!r}')
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f'{owner}: class_weight must be finite and non-negative, got {class_weight!r}')
    return torch.as_tensor(values, dtype=torch.float32)
