"""What :func:`~segtools.apis.init_model` needs besides building: weights, dataset meta, SyncBN.

Unlike mmseg's ``init_model``, nothing here guesses: the class names and colours come from
the checkpoint's ``meta.dataset_meta`` or from the config's test dataset, and a class count
that disagrees with the decode head is an error, never a silent switch to Cityscapes.
"""

import copy
import warnings
from collections.abc import Mapping

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from segtools.errors import ConfigError
from segtools.palettes import generate_palette
from segtools.registry import DATASETS
from segtools.utils.state_dict_check import CheckpointMismatchError, compare_state_dict, convert_foreign_layout
from segtools.weights import load_from_local_safe, setup_safe_checkpointing
from segtools.weights.converters import unwrap_state_dict

# Key prefixes a checkpoint may lack: auxiliary heads only train, inference never runs them.
OPTIONAL_PREFIXES = ('auxiliary_head.',)


class _BatchNormXd(_BatchNorm):
    """A batch norm for any input rank (what a converted ``nn.SyncBatchNorm`` becomes)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'batch norm expects at least (N, C), got shape {tuple(input.shape)}')


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replaces every ``torch.nn.SyncBatchNorm`` in ``module`` by a local batch norm.

    ``torch.nn.SyncBatchNorm`` is only right inside an initialised process group (older
    PyTorch refused CPU inputs outright), which inference rarely has. segtools' own
    :class:`~segtools.models.layers.sync_bn.SyncBatchNorm` (what ``'SyncBN'`` builds in the
    segtools scope) is a local batch norm on one process and is kept, together with its fused
    activation. Parameters, buffers, training mode and ``requires_grad`` carry over.

    Args:
        module: A model or layer; converted in place where possible.

    Returns:
        The converted module (a new object only when ``module`` itself was a SyncBatchNorm).
    """
    if isinstance(module, nn.SyncBatchNorm):
        local = _BatchNormXd(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        local.load_state_dict(module.state_dict())
        if module.affine:
            local.weight.requires_grad_(module.weight.requires_grad)
            local.bias.requires_grad_(module.bias.requires_grad)
        local.train(module.training)
        tensors = [*module.parameters(), *module.buffers()]
        return local.to(tensors[0].device) if tensors else local
    for name, child in module.named_children():
        converted = revert_sync_batchnorm(child)
        if converted is not child:
            setattr(module, name, converted)
    return module


def load_weights(model: nn.Module, checkpoint: str, config_name: str) -> dict:
    """Loads a checkpoint's weights into ``model`` with the weights-only loader.

    The weights are ``checkpoint['state_dict']`` (or ``['model']``), or the whole file when it
    is a bare state dict; a ``module.`` prefix (DDP) is stripped
    (:func:`segtools.weights.converters.unwrap_state_dict`). Shapes must match and every key the model
    has must be present, except those of auxiliary heads (a warning names them). Keys the
    model does not have are named in a warning. A checkpoint in MMSegmentation 1.x's layout is
    renamed to the model's keys when that makes it fit (one log line says so; see
    :func:`segtools.utils.state_dict_check.convert_foreign_layout`).

    Args:
        model: The freshly built model.
        checkpoint: Path of the checkpoint, or ``segtools://NAME`` / a URL (downloaded to the cache).
        config_name: The config's file name, for error messages.

    Returns:
        The loaded checkpoint dict (for its ``meta``).

    Raises:
        FileNotFoundError: No such file.
        segtools.weights.loading.UnsafeCheckpointError: The file needs code to unpickle.
        ValueError: Not a state dict.
        segtools.utils.state_dict_check.CheckpointMismatchError: Shapes that differ or weights the
            model needs are missing (named).
    """
    if '://' in str(checkpoint):
        # segtools://NAME, http(s)://... and mmengine's names: downloaded into the cache,
        # hash-checked, then loaded weights-only (segtools.weights.registration).
        setup_safe_checkpointing()
        loaded = CheckpointLoader.load_checkpoint(str(checkpoint), map_location='cpu')
    else:
        loaded = load_from_local_safe(str(checkpoint), map_location='cpu')
    # The wrappings (state_dict / model / bare, DDP's module. prefix) the converters accept too.
    state, _ = unwrap_state_dict(loaded, f'checkpoint {checkpoint}')
    if not state:
        raise CheckpointMismatchError(f'checkpoint {checkpoint} has no weights: its state dict is empty')

    mismatch = compare_state_dict(model.state_dict(), state, optional_prefixes=OPTIONAL_PREFIXES)
    if mismatch.shapes or mismatch.missing:
        converted = convert_foreign_layout(model, state, optional_prefixes=OPTIONAL_PREFIXES)
        if converted is not None and not converted.mismatch.shapes and not converted.mismatch.missing:
            print_log(converted.describe(str(checkpoint)), logger='current')
            state, mismatch = converted.state_dict, converted.mismatch
    if mismatch.shapes or mismatch.missing:
        raise CheckpointMismatchError(
            f'checkpoint {checkpoint} does not fit the model of {config_name} (are they from the same run? '
            f'num_classes?); weights left out would stay randomly initialised:\n  {mismatch.summary()}'
        )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        warnings.warn(
            f'checkpoint {checkpoint} has no weights for {result.missing_keys[:5]} (auxiliary heads; unused in '
            'inference)',
            stacklevel=3,
        )
    if result.unexpected_keys:
        warnings.warn(
            f'checkpoint {checkpoint} has weights the model of {config_name} does not use: '
            f'{result.unexpected_keys[:5]}',
            stacklevel=3,
        )
    return dict(loaded)


def dataset_meta_from_config(cfg: Config) -> tuple[dict | None, str]:
    """``classes``/``palette`` of the config's test dataset (its ``METAINFO`` with overrides).

    Args:
        cfg: The model's config.

    Returns:
        ``(meta, source)``; ``meta`` is ``None`` when the config names no known dataset type.
    """
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    dataset_type = dataset.get('type') if hasattr(dataset, 'get') else None
    dataset_cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    if not isinstance(dataset_cls, type) or not getattr(dataset_cls, 'METAINFO', None):
        return None, f'test_dataloader.dataset.type {dataset_type!r} of {cfg.filename}'
    base = dict(copy.deepcopy(dataset_cls.METAINFO))
    override = dict(dataset.get('metainfo') or {})
    meta = {**base, **override}
    classes = tuple(meta.get('classes') or ())
    palette = meta.get('palette')
    if 'classes' in override and 'palette' not in override:
        # A class subset keeps each class's own colour.
        by_name = dict(zip(base.get('classes', ()), base.get('palette') or (), strict=False))
        palette = [by_name[name] for name in classes] if all(name in by_name for name in classes) else None
    meta.update(classes=classes, palette=[list(color) for color in palette] if palette else None)
    return meta, f'{dataset_cls.__name__}.METAINFO (test dataset of {cfg.filename})'


def dataset_meta_from_checkpoint(checkpoint: Mapping) -> dict | None:
    """``meta.dataset_meta`` of a checkpoint (or mmseg 0.x ``meta.CLASSES``/``PALETTE``), else None."""
    meta = checkpoint.get('meta') or {}
    if meta.get('dataset_meta'):
        return dict(meta['dataset_meta'])
    if meta.get('CLASSES'):
        return dict(classes=tuple(meta['CLASSES']), palette=meta.get('PALETTE'))
    return None


def resolve_dataset_meta(
    checkpoint: Mapping | None, checkpoint_name: str | None, cfg: Config, num_classes: int | None
) -> dict:
    """The model's ``dataset_meta``: the checkpoint's, else the config's test dataset's.

    Args:
        checkpoint: The loaded checkpoint, or None.
        checkpoint_name: Its path, for messages.
        cfg: The model's config.
        num_classes: Classes the decode head predicts (None: not checked).

    Returns:
        A dict with ``classes`` (tuple) and ``palette`` (``[[r, g, b], ...]``, one per class).

    Raises:
        segtools.errors.ConfigError: The class names found disagree with ``num_classes`` in number.
    """
    meta = dataset_meta_from_checkpoint(checkpoint) if checkpoint is not None else None
    source = f'meta.dataset_meta of checkpoint {checkpoint_name}'
    if meta is None:
        meta, source = dataset_meta_from_config(cfg)
    if meta is None:
        if num_classes is None:
            raise ConfigError(f'no class names: neither a checkpoint meta nor a known dataset type in {source}')
        warnings.warn(
            f'no class names for the model: neither the checkpoint meta nor {source} names a known dataset; '
            f'using class_0..class_{num_classes - 1} with generated colours',
            stacklevel=3,
        )
        meta = dict(classes=tuple(f'class_{i}' for i in range(num_classes)))
    meta = dict(meta, classes=tuple(meta['classes']))
    if num_classes is not None and len(meta['classes']) != num_classes:
        raise ConfigError(
            f'{source} lists {len(meta["classes"])} classes but the decode head of {cfg.filename} predicts '
            f'{num_classes}; use the config the checkpoint was trained with, or set the classes with '
            'cfg_options={"test_dataloader.dataset.metainfo.classes": [...]}'
        )
    palette = meta.get('palette')
    if not palette or len(palette) < len(meta['classes']):
        meta['palette'] = generate_palette(len(meta['classes']))
    return meta
