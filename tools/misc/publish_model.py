"""Prepare a trained checkpoint for release: strip the training state, name it by its hash.

Usage::

    python tools/misc/publish_model.py work_dirs/encnet/iter_80000.pth encnet_r50-d8_ade20k.pth
    # -> encnet_r50-d8_ade20k-1a2b3c4d.pth (the first 8 hex digits of its sha256)

The checkpoint is loaded weights-only (a file that needs code-running globals is refused).
Kept: ``state_dict`` and ``meta`` (and any other key a tool added). Dropped: ``optimizer``
(as MMSegmentation's ``publish_model.py``) and also ``param_schedulers``, ``message_hub`` and
``random_state``: they only serve ``--resume``, which a published model is not for, and the message hub carries
the whole training log. The file is written to a temporary name in the output folder, hashed,
then renamed atomically to ``<stem>-<sha256[:8]>.pth``; the final path and the full sha256
are printed (the hash prefix is what download checks compare against).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import torch

from segtools.utils.cli import run_tool
from segtools.utils.fileio import atomic_write_bytes
from segtools.weights import CorruptCheckpointError, UnsafeCheckpointError, load_from_local_safe

# Resume-only state removed from a published checkpoint.
TRAINING_STATE_KEYS = ('optimizer', 'param_schedulers', 'message_hub', 'random_state')
HASH_PREFIX_LEN = 8


def strip_training_state(checkpoint: dict) -> dict:
    """A copy of ``checkpoint`` without :data:`TRAINING_STATE_KEYS`; a bare state dict is wrapped.

    Raises:
        ValueError: The checkpoint has no ``state_dict`` and is not a dict of tensors.
    """
    if 'state_dict' not in checkpoint:
        if not checkpoint or not all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
            raise ValueError(f'expected a checkpoint with a state_dict; found keys {sorted(checkpoint)[:10]}')
        return {'state_dict': dict(checkpoint)}
    return {key: value for key, value in checkpoint.items() if key not in TRAINING_STATE_KEYS}


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def published_name(out: str | Path, sha256: str) -> Path:
    """``dir/name.pth`` -> ``dir/name-<sha256[:8]>.pth`` (a missing ``.pth`` suffix is added)."""
    out = Path(out)
    stem = out.name[: -len('.pth')] if out.name.endswith('.pth') else out.name
    return out.with_name(f'{stem}-{sha256[:HASH_PREFIX_LEN]}.pth')


def publish(src: str | Path, out: str | Path) -> tuple[Path, str]:
    """Writes the stripped ``src`` as ``<out stem>-<sha256[:8]>.pth``.

    Returns:
        The final path and the full sha256 of its bytes.
    """
    checkpoint = strip_training_state(load_from_local_safe(str(src), map_location='cpu'))
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    final = published_name(Path(out), sha256)
    atomic_write_bytes(final, data)
    return final, sha256


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Strip the training state of a checkpoint and add its hash.')
    parser.add_argument('in_file', type=Path, help='trained checkpoint')
    parser.add_argument('out_file', type=Path, help='output name; the hash prefix is appended to its stem')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        final, sha256 = publish(args.in_file, args.out_file)
    except (FileNotFoundError, UnsafeCheckpointError, CorruptCheckpointError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(final)
    print(f'sha256: {sha256}')
    return 0


if __name__ == '__main__':
    run_tool(main)
