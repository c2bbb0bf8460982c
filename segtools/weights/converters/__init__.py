"""Checkpoint key conversion from PyTorch-Encoding, torchvision/timm and MMSegmentation to segtools.

A *spec* ``'<source>:<arch>'`` names one conversion: ``'encoding:resnet50s'``,
``'torchvision:resnet50'``, ``'mmseg:resnet_v1c'``, ``'encoding:encnet_resnet101s'``... A backbone
arch drops the ImageNet classifier ``fc`` (segmentation use); ``'<source>:<backbone>:classifier'``
keeps it: ``'encoding:resnest50:classifier'``, ``'torchvision:resnet50:classifier'`` give the whole
``ImageClassifier`` (``backbone.*``, ``head.fc``). ``'encoding:deepten_resnet50'`` gives Deep TEN's
``ImageClassifier``. A source may list *pending* archs (``PENDING``: a known layout whose segtools
target is not written yet): the model store may name them, and converting says why it cannot yet.
The model store records one spec per entry (:attr:`segtools.weights.manifest.ModelEntry.convert`)
and converts on load (:func:`segtools.weights.store.load_pretrained`);
``tools/model_converters/*2segtools.py`` are command lines over the same modules. A checkpoint
in MMSegmentation's layout given to ``tools/test.py``/``tools/train.py`` or ``init_model`` is converted
by the arch of the model (:func:`.mmseg.arch_for_model`, applied by
:func:`segtools.utils.state_dict_check.convert_foreign_layout`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import torch

from . import encoding, mmseg, torchvision
from .common import (
    Conversion,
    ConversionError,
    Rule,
    ShapeMismatchError,
    backbone_rules,
    check_against_model,
    convert_keys,
    unwrap_state_dict,
)

SOURCES: dict[str, ModuleType] = {'encoding': encoding, 'torchvision': torchvision, 'mmseg': mmseg}


def parse_spec(spec: str) -> tuple[ModuleType, str]:
    """``'encoding:resnet50s'`` -> ``(segtools.weights.converters.encoding, 'resnet50s')``;
    ``'encoding:resnest50:classifier'`` -> ``(..., 'resnest50:classifier')``.

    Raises:
        KeyError: Unknown source or arch (the accepted ones are named), or a pending arch (why).
    """
    source, sep, arch = spec.partition(':')
    if not sep or source not in SOURCES:
        raise KeyError(f'conversion spec {spec!r}: expected <source>:<arch> with source in {sorted(SOURCES)}')
    module = SOURCES[source]
    reason = pending_reason(spec)
    if reason is not None:
        raise KeyError(f'conversion spec {spec!r} is not implemented yet: {reason}')
    if arch not in module.ARCHS:
        raise KeyError(f'conversion spec {spec!r}: unknown {source} arch {arch!r}; expected one of {module.ARCHS}')
    return module, arch


def pending_reason(spec: str) -> str | None:
    """Why ``spec`` names a known but not yet implemented conversion (its source's ``PENDING``), else None."""
    source, _, arch = spec.partition(':')
    module = SOURCES.get(source)
    return getattr(module, 'PENDING', {}).get(arch) if module is not None else None


def is_backbone_spec(spec: str) -> bool:
    """Whether ``spec`` converts a backbone (keys without a ``backbone.`` prefix)."""
    module, arch = parse_spec(spec)
    return arch in module.BACKBONE_ARCHS


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], spec: str) -> Conversion:
    """Converts ``state_dict`` by the conversion ``spec`` (see the module docstring).

    Raises:
        KeyError: Unknown spec.
        ConversionError: A key no rule of the spec matches (all named).
    """
    module, arch = parse_spec(spec)
    return module.convert_with_report(state_dict, arch)


__all__ = [
    'SOURCES',
    'Conversion',
    'ConversionError',
    'Rule',
    'ShapeMismatchError',
    'backbone_rules',
    'check_against_model',
    'convert_keys',
    'convert_state_dict',
    'is_backbone_spec',
    'parse_spec',
    'pending_reason',
    'unwrap_state_dict',
]
