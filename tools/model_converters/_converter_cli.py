"""Command-line pieces shared by the checkpoint converters: the model check, loading, atomic saving.

The converters import this module as ``_converter_cli`` (a name no other tools folder uses): run as scripts
(``python tools/model_converters/mmseg2segtools.py``), their own folder is first on
``sys.path``. The conversion itself (rules, :func:`convert_keys`, errors) lives in
:mod:`segtools.weights.converters`, which the model store (:mod:`segtools.weights.store`) uses as well.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import torch

from segtools.utils.config_compat import load_config
from segtools.utils.fileio import atomic_open
from segtools.weights import CorruptCheckpointError, UnsafeCheckpointError, load_from_local_safe
from segtools.weights.converters import (
    Conversion,
    ConversionError,
    ShapeMismatchError,
    check_against_model,
    unwrap_state_dict,
)

__all__ = [
    'ConversionError',
    'ShapeMismatchError',
    'check_against_model',
    'load_source_state_dict',
    'model_state_from_config',
    'run_cli',
    'save_atomic',
]


# ----------------------------------------------------------------------------------------------- model check
def model_state_from_config(config: str | Path, backbone_only: bool) -> dict[str, torch.Tensor]:
    """Builds the model of a segtools config (no weights loaded) and returns its state dict.

    Args:
        config: Path of an mmengine config.
        backbone_only: Build ``model.backbone`` when the config's model has one (for
            backbone checkpoints, whose keys carry no ``backbone.`` prefix).
    """

    from segtools.registry import MODELS
    from segtools.utils import register_all_modules

    register_all_modules()
    cfg = load_config(str(config))
    model_cfg = cfg.model
    if backbone_only and 'backbone' in model_cfg:
        model_cfg = model_cfg.backbone
    return MODELS.build(model_cfg).state_dict()


# ----------------------------------------------------------------------------------------------- files
def load_source_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Loads a checkpoint weights-only and returns ``(state_dict, source meta)``.

    See :func:`segtools.weights.converters.unwrap_state_dict` for the wrappings accepted.

    Raises:
        segtools.weights.loading.UnsafeCheckpointError: The file needs globals that could run
            code when unpickled.
        ConversionError: The file holds no dict of tensors.
    """
    return unwrap_state_dict(load_from_local_safe(str(path), map_location='cpu'), str(path))


def save_atomic(obj: object, path: str | Path) -> Path:
    """``torch.save`` into a temporary file next to ``path``, fsync, then rename it into place."""
    path = Path(path)
    with atomic_open(path) as f:
        torch.save(obj, f)
    return path


# ----------------------------------------------------------------------------------------------- CLI
def _print_keys(title: str, keys: Iterable[str]) -> None:
    keys = list(keys)
    if keys:
        print(f'{title} ({len(keys)}):')
        for key in keys:
            print(f'  {key}')


def run_cli(
    argv: Sequence[str] | None,
    *,
    description: str,
    archs: Sequence[str],
    convert_fn: Callable[[Mapping[str, torch.Tensor], str], Conversion],
    backbone_archs: Iterable[str],
    source: str,
) -> int:
    """The command line every converter shares; returns the exit status.

    ``SRC DST --arch NAME [--config CONFIG] [--allow-missing]``. With ``--config`` the converted
    keys are checked against the model the config builds (its backbone for a backbone arch):
    a shape mismatch always fails; missing or unexpected keys fail unless ``--allow-missing``.
    Nothing is written when the conversion fails. Output: ``{'state_dict', 'meta'}``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', type=Path, help='source checkpoint (.pth)')
    parser.add_argument('dst', type=Path, help='converted checkpoint to write')
    parser.add_argument(
        '--arch',
        '--model',
        dest='arch',
        required=True,
        choices=sorted(archs),
        metavar='NAME',
        help=f'source model, one of: {", ".join(sorted(archs))}',
    )
    parser.add_argument('--config', type=Path, default=None, help='segtools config whose model the result must fit')
    parser.add_argument(
        '--allow-missing', action='store_true', help='with --config, only report missing/unexpected keys'
    )
    args = parser.parse_args(argv)
    try:
        state_dict, meta = load_source_state_dict(args.src)
        result = convert_fn(state_dict, args.arch)
    except (FileNotFoundError, UnsafeCheckpointError, CorruptCheckpointError, ConversionError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    _print_keys('dropped source keys', result.dropped)
    print(f'converted {len(result.state_dict)} tensors ({args.arch})')
    if args.config is not None:
        expected = model_state_from_config(args.config, backbone_only=args.arch in set(backbone_archs))
        try:
            missing, unexpected = check_against_model(result.state_dict, expected)
        except ShapeMismatchError as error:
            print(f'error: {args.config}: {error}', file=sys.stderr)
            return 1
        _print_keys('missing keys (in the model, not in the checkpoint)', missing)
        _print_keys('unexpected keys (in the checkpoint, not in the model)', unexpected)
        if (missing or unexpected) and not args.allow_missing:
            print(
                f'error: {len(missing)} missing and {len(unexpected)} unexpected keys against {args.config} '
                '(--allow-missing to write anyway)',
                file=sys.stderr,
            )
            return 1
        if not missing and not unexpected:
            print(f'all keys and shapes match {args.config}')
    meta = {'source': source, 'arch': args.arch, 'src': str(args.src), 'src_meta': meta}
    save_atomic({'state_dict': result.state_dict, 'meta': meta}, args.dst)
    print(f'saved {args.dst}')
    return 0
