"""Whether a checkpoint's weights fit a model: missing, unexpected and mis-shaped keys, named."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from segtools.errors import CheckpointError

# Buffers that old checkpoints may lack without consequence (mmengine skips them too).
IGNORED_MISSING = ('num_batches_tracked',)


class CheckpointMismatchError(CheckpointError, ValueError):
    """A checkpoint's weights do not fit the model they are loaded into."""


@dataclass
class StateDictMismatch:
    """What differs between a checkpoint's state dict and a model's.

    Attributes:
        missing: Keys the model has and the checkpoint lacks (they would keep their initial values).
        unexpected: Keys the checkpoint has and the model lacks (they would be dropped).
        shapes: ``(key, checkpoint shape, model shape)`` of keys present in both with other shapes.
    """

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    def summary(self, limit: int = 5) -> str:
        """One line per kind of difference, each naming the first ``limit`` keys."""

        def listed(items: list[str]) -> str:
            more = f', ... ({len(items)} in total)' if len(items) > limit else ''
            return ', '.join(items[:limit]) + more

        lines = []
        if self.shapes:
            shown = [
                f'{key} {tuple(ckpt)} in the checkpoint vs {tuple(own)} in the model' for key, ckpt, own in self.shapes
            ]
            lines.append(f'{len(self.shapes)} with another shape: {listed(shown)}')
        if self.missing:
            lines.append(f'{len(self.missing)} missing from the checkpoint: {listed(self.missing)}')
        if self.unexpected:
            lines.append(f'{len(self.unexpected)} not in the model: {listed(self.unexpected)}')
        return '\n  '.join(lines)


def checkpoint_state_dict(
    checkpoint: Mapping, revise_keys: tuple[tuple[str, str], ...] = ((r'^module\.', ''),)
) -> dict:
    """The weights mmengine's ``Runner.load_checkpoint`` would load from ``checkpoint``.

    ``checkpoint['state_dict']`` when present, else the whole mapping, with each
    ``(pattern, replacement)`` of ``revise_keys`` applied to the keys (by default the ``module.``
    prefix of DDP-saved weights is stripped).
    """
    state = checkpoint['state_dict'] if 'state_dict' in checkpoint else checkpoint
    for pattern, replacement in revise_keys:
        state = {re.sub(pattern, replacement, key): value for key, value in state.items()}
    return dict(state)


def compare_state_dict(
    model_state: Mapping[str, torch.Tensor], state: Mapping[str, object], optional_prefixes: tuple[str, ...] = ()
) -> StateDictMismatch:
    """Compares a checkpoint's state dict with a model's.

    Args:
        model_state: ``model.state_dict()``.
        state: The checkpoint's weights (see :func:`checkpoint_state_dict`).
        optional_prefixes: Key prefixes the checkpoint may lack (e.g. auxiliary heads for inference).

    Returns:
        The differences; falsy when the checkpoint fits exactly.
    """
    mismatch = StateDictMismatch()
    for key, own in model_state.items():
        if key not in state:
            if not key.endswith(IGNORED_MISSING) and not key.startswith(optional_prefixes):
                mismatch.missing.append(key)
            continue
        value = state[key]
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else None
        if shape != tuple(own.shape):
            mismatch.shapes.append((key, shape, tuple(own.shape)))
    mismatch.unexpected = [key for key in state if key not in model_state]
    return mismatch


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model whose keys checkpoints hold: DDP wrappers and TTA models are peeled off (as mmengine loads)."""
    from mmengine.model import BaseTTAModel, is_model_wrapper

    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model
