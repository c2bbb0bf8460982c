"""Key-mapping rules that turn other projects' checkpoints into segtools state dicts.

A converter is a list of :class:`Rule` per architecture. A rule matches the *module path* of a
key (everything before the last dot, e.g. ``head.conv5.0``) with ``re.fullmatch`` and rewrites it;
the leaf (``weight``, ``running_mean``, ``codewords``...) is kept unless the rule renames it. The
first matching rule wins. A rule whose target is ``None`` drops the key (classifier heads of
ImageNet checkpoints); every dropped key is reported. A key that no rule matches is an error: the
converter refuses to guess.

Only torch and the standard library are imported here: the model store
(:mod:`segtools.weights.store`) converts on load and the CLIs in ``tools/model_converters/``
wrap the same functions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from segtools.errors import SegtoolsError

# Leaves a converted key may end with: conv/linear/norm parameters and buffers, Encoding's.
LEAVES = frozenset({'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked', 'codewords', 'scale'})

Transform = Callable[[torch.Tensor], torch.Tensor]


class ConversionError(SegtoolsError, ValueError):
    """A source key has no rule, or a rule produced an impossible key."""


class ShapeMismatchError(SegtoolsError, ValueError):
    """A converted tensor's shape differs from the segtools model's."""


@dataclass(frozen=True)
class Rule:
    """Rewrites the module path of the keys it matches.

    Args:
        pattern: Regular expression matched against the whole module path.
        target: ``re.Match.expand`` template (``\\1``, ``\\g<name>``), a function of the match,
            or ``None`` to drop the key.
        transform: Optional function applied to the tensor of a converted key whose leaf is
            ``transform_leaf`` (e.g. a permutation of input channels); ``None`` keeps it.
        transform_leaf: The source leaf whose tensors ``transform`` changes.
        leaf: New leaf of the converted keys, for a parameter the source holds in a wrapper
            module and the target registers directly (mmcv's ``Scale``: ``pam.gamma.scale`` ->
            ``pam.gamma``, the target module path being ``pam``); ``None`` keeps the leaf.
    """

    pattern: str
    target: str | Callable[[re.Match], str] | None
    transform: Transform | None = None
    transform_leaf: str = 'weight'
    leaf: str | None = None

    def apply(self, module: str) -> tuple[bool, str | None]:
        """``(matched, new module path or None when dropped)``."""
        match = re.fullmatch(self.pattern, module)
        if match is None:
            return False, None
        if self.target is None:
            return True, None
        return True, self.target(match) if callable(self.target) else match.expand(self.target)


@dataclass
class Conversion:
    """The result of :func:`convert_keys`: converted tensors, dropped source keys, the key map."""

    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)


def convert_keys(state_dict: Mapping[str, torch.Tensor], rules: Sequence[Rule], arch: str) -> Conversion:
    """Applies ``rules`` to every key of ``state_dict``.

    Args:
        state_dict: Source tensors by key.
        rules: Rules of one architecture, first match wins.
        arch: Architecture name, for the messages.

    Returns:
        The :class:`Conversion`; ``num_batches_tracked`` is added (0) for every batch norm that
        lacks it (old PyTorch checkpoints), so it is never reported missing.

    Raises:
        ConversionError: Keys that no rule matches (all named), a leaf outside :data:`LEAVES`,
            or two source keys mapped to one target.
    """
    result = Conversion()
    unmatched = []
    for key, tensor in state_dict.items():
        module, _, leaf = key.rpartition('.')
        for rule in rules:
            matched, new_module = rule.apply(module)
            if matched:
                break
        else:
            unmatched.append(key)
            continue
        if new_module is None:
            result.dropped.append(key)
            continue
        if leaf not in LEAVES:
            raise ConversionError(f'{arch}: key {key!r} has leaf {leaf!r}; expected one of {sorted(LEAVES)}')
        new_key = f'{new_module}.{rule.leaf or leaf}'
        if new_key in result.state_dict:
            first = next(src for src, dst in result.renamed.items() if dst == new_key)
            raise ConversionError(f'{arch}: keys {first!r} and {key!r} both map to {new_key!r}')
        if rule.transform is not None and leaf == rule.transform_leaf:
            tensor = rule.transform(tensor)
        result.state_dict[new_key] = tensor
        result.renamed[key] = new_key
    if unmatched:
        shown = ', '.join(unmatched[:10]) + (f' ... ({len(unmatched)} in all)' if len(unmatched) > 10 else '')
        raise ConversionError(f'{arch}: no conversion rule for source keys: {shown}')
    add_num_batches_tracked(result.state_dict)
    return result


def add_num_batches_tracked(state_dict: dict[str, torch.Tensor]) -> None:
    """Adds ``num_batches_tracked = 0`` next to every ``running_var`` that has none (in place)."""
    for key in [k for k in state_dict if k.endswith('.running_var')]:
        counter = key[: -len('running_var')] + 'num_batches_tracked'
        state_dict.setdefault(counter, torch.tensor(0, dtype=torch.long))


def backbone_rules(*, deep_stem: bool, avg_down: bool, split_attention: bool, prefix: str = '') -> list[Rule]:
    """Rules of a ResNet-family backbone in the torchvision/timm/PyTorch-Encoding layout.

    Those projects name the deep stem ``conv1.{0,1,3,4,6}`` plus ``bn1`` (conv, norm, ReLU,
    conv, norm, ReLU, conv, then the stem norm); segtools' stem is one ``nn.Sequential``
    ``stem.{0..7}`` whose index 7 is that last norm. Blocks already share segtools' names.

    Args:
        deep_stem: Three 3x3 stem convs (PyTorch-Encoding ``resnet*s``, ResNet-D, ResNeSt).
        avg_down: Shortcut ``AvgPool, conv, norm`` (``downsample.{1,2}``) instead of
            ``conv, norm`` (``downsample.{0,1}``).
        split_attention: The 3x3 conv is a split-attention conv (``conv2.{conv,bn0,fc1,bn1,fc2}``,
            no ``bn2``).
        prefix: Source prefix of every backbone key (``pretrained.`` in PyTorch-Encoding's
            segmentation models); the target prefix is ``backbone.`` when it is set.

    Returns:
        The rules; the classifier ``fc`` is dropped (:func:`image_classifier_rules` keeps it).
    """
    src = re.escape(prefix)
    dst = 'backbone.' if prefix else ''
    block = rf'{src}(layer\d+\.\d+)'
    rules = []
    if deep_stem:
        rules += [Rule(rf'{src}conv1\.([01346])', dst + r'stem.\1'), Rule(rf'{src}bn1', dst + 'stem.7')]
    else:
        rules += [Rule(rf'{src}(conv1|bn1)', dst + r'\1')]
    rules.append(Rule(rf'{block}\.(conv1|bn1|conv3|bn3)', dst + r'\1.\2'))
    if split_attention:
        rules.append(Rule(rf'{block}\.conv2\.(conv|bn0|fc1|bn1|fc2)', dst + r'\1.conv2.\2'))
    else:
        rules.append(Rule(rf'{block}\.(conv2|bn2)', dst + r'\1.\2'))
    rules.append(Rule(rf'{block}\.downsample\.({"[12]" if avg_down else "[01]"})', dst + r'\1.downsample.\2'))
    rules.append(Rule(rf'{src}fc', None))
    return rules


def _under_backbone(rule: Rule) -> Rule:
    """``rule`` with ``backbone.`` before its target (a dropping rule is kept as it is)."""
    target = rule.target
    if target is None:
        return rule
    if callable(target):
        return dataclasses.replace(rule, target=lambda match: 'backbone.' + target(match))
    return dataclasses.replace(rule, target='backbone.' + target)


def image_classifier_rules(backbone: list[Rule]) -> list[Rule]:
    """The rules of an ImageNet classifier (a backbone with ``fc``) -> :class:`ImageClassifier` keys.

    ``fc`` -> ``head.fc`` (``LinearClsHead`` after ``GlobalAveragePooling``: these projects pool
    then apply ``fc``); every other key as ``backbone`` (unprefixed rules), under ``backbone.``.
    """
    return [Rule(r'fc', 'head.fc'), *map(_under_backbone, backbone)]


def move_last_block_first(num_blocks: int) -> Transform:
    """Transform of a conv weight ``(C_out, num_blocks * C, kh, kw)`` whose input concatenation
    order was ``[b_0, ..., b_{n-1}]`` into the order ``[b_{n-1}, b_0, ..., b_{n-2}]``."""

    def transform(weight: torch.Tensor) -> torch.Tensor:
        if weight.shape[1] % num_blocks:
            raise ConversionError(f'cannot split {weight.shape[1]} input channels into {num_blocks} equal blocks')
        width = weight.shape[1] // num_blocks
        return torch.cat([weight[:, -width:], weight[:, :-width]], dim=1).contiguous()

    return transform


def reverse_blocks(num_blocks: int) -> Transform:
    """Transform of a conv weight ``(C_out, num_blocks * C, kh, kw)`` whose input concatenation
    order was ``[b_0, ..., b_{n-1}]`` into the order ``[b_{n-1}, ..., b_0]``."""

    def transform(weight: torch.Tensor) -> torch.Tensor:
        if weight.shape[1] % num_blocks:
            raise ConversionError(f'cannot split {weight.shape[1]} input channels into {num_blocks} equal blocks')
        return torch.cat(list(reversed(weight.chunk(num_blocks, dim=1))), dim=1).contiguous()

    return transform


def check_against_model(
    converted: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str]]:
    """Compares converted tensors with a model's state dict.

    Returns:
        ``(missing, unexpected)``: model keys absent from ``converted`` and converted keys the
        model does not have, both sorted.

    Raises:
        ShapeMismatchError: Naming every key present in both with different shapes and the two
            shapes.
    """
    mismatched = [
        f'{key}: converted {tuple(converted[key].shape)} vs model {tuple(expected[key].shape)}'
        for key in converted
        if key in expected and tuple(converted[key].shape) != tuple(expected[key].shape)
    ]
    if mismatched:
        raise ShapeMismatchError('shape mismatch for ' + '; '.join(mismatched))
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    return missing, unexpected


def unwrap_state_dict(checkpoint: object, name: str) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and source meta of a loaded checkpoint, whatever its wrapping.

    Accepts a bare state dict or a dict with ``state_dict`` (mmseg/mmengine, PyTorch-Encoding's
    training script) or ``model`` (timm/torchvision training scripts); a ``module.`` prefix
    (``DataParallel``) is removed.

    Args:
        checkpoint: What a weights-only ``torch.load`` returned.
        name: The file or entry it came from, for the messages.

    Returns:
        ``(state_dict, meta)``; ``meta`` is the checkpoint's ``meta`` dict or ``{}``.

    Raises:
        ConversionError: ``checkpoint`` is no dict of tensors.
    """
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(f'{name}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    meta = checkpoint.get('meta', {}) if isinstance(checkpoint.get('meta'), Mapping) else {}
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), Mapping):
            checkpoint = checkpoint[wrapper]
            break
    bad = [key for key, value in checkpoint.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise ConversionError(f'{name}: expected a state dict of tensors; not tensors: {bad[:5]}')
    if checkpoint and all(key.startswith('module.') for key in checkpoint):
        checkpoint = {key[len('module.') :]: value for key, value in checkpoint.items()}
    return dict(checkpoint), dict(meta)
