"""Whether a checkpoint's weights fit a model: missing, unexpected and mis-shaped keys, named.

Also whether they fit once converted from MMSegmentation's layout (:func:`convert_foreign_layout`),
which the strict-load hook and :func:`segtools.apis.init_model` apply on load.
"""

import re
from collections.abc import Mapping, MutableMapping
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

    def __len__(self) -> int:
        """Number of keys that differ."""
        return len(self.missing) + len(self.unexpected) + len(self.shapes)

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


def replace_checkpoint_state_dict(checkpoint: MutableMapping, state: Mapping) -> None:
    """Puts ``state`` where mmengine loads weights from: ``checkpoint['state_dict']``, or the checkpoint
    itself when it is a bare state dict (changed in place)."""
    if 'state_dict' in checkpoint:
        checkpoint['state_dict'] = dict(state)
    else:
        checkpoint.clear()
        checkpoint.update(state)


@dataclass
class LayoutConversion:
    """A checkpoint's weights renamed from another project's layout to the model's keys.

    Attributes:
        state_dict: The converted weights.
        mismatch: What still differs from the model (falsy when the converted weights fit).
        source: The project whose layout the checkpoint has (``'MMSegmentation'``).
        arch: The arch of the conversion.
        cli: The command line doing the same conversion offline.
        num_renamed: Keys whose name changed.
        keeps_parameter_order: The checkpoint holds the model's parameters in the model's order and
            shapes, so an optimizer state saved with it (indexed by position) fits the model too.
    """

    state_dict: dict[str, torch.Tensor]
    mismatch: StateDictMismatch
    source: str
    arch: str
    cli: str
    num_renamed: int
    keeps_parameter_order: bool

    def describe(self, name: str) -> str:
        """The log line of the conversion of checkpoint ``name``."""
        return (
            f"checkpoint {name} is in {self.source}'s layout: {self.num_renamed} keys renamed to segtools' "
            f'(the conversion of {self.cli} --arch {self.arch})'
        )


def convert_foreign_layout(
    model: nn.Module, state: Mapping[str, torch.Tensor], optional_prefixes: tuple[str, ...] = ()
) -> LayoutConversion | None:
    """``state`` read as an MMSegmentation checkpoint of ``model``'s arch and renamed to its keys.

    The arch comes from the model's decode head and neck
    (:func:`segtools.weights.converters.mmseg.arch_for_model`); every key of ``state`` must match a
    rule of it, so a checkpoint of another layout is not converted. Whether the result is used is
    the caller's decision, from :attr:`LayoutConversion.mismatch`.

    Args:
        model: The model (DDP/TTA wrappers peeled off) the weights are for.
        state: The checkpoint's weights (:func:`checkpoint_state_dict`).
        optional_prefixes: As in :func:`compare_state_dict`.

    Returns:
        The conversion, or ``None`` when the model's mmseg layout is unknown, a key of ``state``
        matches no rule, or the conversion renames nothing (the two layouts name the model alike).
    """
    # Imported here: importing segtools.weights registers mmengine's checkpoint loaders (and imports its
    # runner); the hooks and tools that import this module need it only when a checkpoint is converted.
    from segtools.weights.converters import mmseg

    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        return None
    found = mmseg.convert_for_model(state, model)
    if found is None:
        return None
    arch, conversion = found
    num_renamed = sum(src != dst for src, dst in conversion.renamed.items())
    if not num_renamed:
        return None
    converted = conversion.state_dict
    params = [name for name, _ in model.named_parameters()]
    wanted = set(params)
    order = [(src, dst) for src, dst in conversion.renamed.items() if dst in wanted]
    keeps_order = [dst for _, dst in order] == params and all(
        tuple(state[src].shape) == tuple(converted[dst].shape) for src, dst in order
    )
    return LayoutConversion(
        state_dict=converted,
        mismatch=compare_state_dict(model.state_dict(), converted, optional_prefixes),
        source=mmseg.SOURCE,
        arch=arch,
        cli=mmseg.CLI,
        num_renamed=num_renamed,
        keeps_parameter_order=keeps_order,
    )


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model whose keys checkpoints hold: DDP wrappers and TTA models are peeled off (as mmengine loads)."""
    from mmengine.model import BaseTTAModel, is_model_wrapper

    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model
