"""``--cfg-options`` checked against the loaded config: a misspelt key is an error, not a new key.

mmengine's ``Config.merge_from_dict`` creates whatever key it is given, so
``--cfg-options load_fromm=x.pth`` or ``randomnes.seed=3`` trains from scratch, unseeded, with
exit status 0. :func:`apply_cfg_options` merges an override only when its dotted path exists
in the loaded config (``_base_`` files merged; top-level helper variables such as ``crop_size``
or ``norm_cfg`` exist there too). Otherwise it raises :class:`~segtools.errors.ConfigError`
naming the key and the closest existing key at the level where the path stops matching.

Rules:

* ``a.b.c=v`` needs ``a.b.c`` in the config. List items are addressed by index, as mmengine
  does: ``train_dataloader.dataset.pipeline.2.scale=(256,256)``; tuples can only be replaced
  whole.
* A key that is new on purpose takes a leading ``+`` (as in Hydra):
  ``--cfg-options +model.decode_head.sampler.type=OHEMPixelSampler``. The ``+`` is stripped
  before merging; everything from the first missing component down is taken as new. Adding a
  key to an existing dict is a new key too (dicts such as ``model.decode_head`` accept more
  keys, but a typo there looks just like an addition), so it needs the ``+`` as well.
* A value whose type cannot be what the config means fails: where the config holds an int,
  float or bool, a string that is not a number or bool (``train_cfg.max_iters=abc``). Other
  type changes are legal (``None`` accepts anything, an int may become a float).

After merging, a dataloader with ``num_workers=0`` and ``persistent_workers=True`` (which
torch's ``DataLoader`` refuses) gets ``persistent_workers=False`` and one log line.
"""

import argparse
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from segtools.errors import ConfigError

#: Leading marker of an override that may create a key the config does not have.
NEW_KEY_MARKER = '+'

# mmengine's marker that replaces a dict instead of merging into it; legal as a last component.
_DELETE_KEY = '_delete_'
# How many existing keys an error lists when none is close to the misspelt one.
_MAX_LISTED = 20
_DATALOADERS = ('train', 'val', 'test')


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` whose malformed item is a usage error (status 2), not a traceback.

    ``DictAction`` parses ``key=value`` items (``1`` -> int, ``a,b`` -> list, ``None``, ...) and
    passes ``+key`` through; an item without ``=`` makes it raise a bare ``ValueError``.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        for item in [values] if isinstance(values, str) else values or []:
            if '=' not in item or item.startswith('='):
                raise argparse.ArgumentError(self, f'expected key=value, got {item!r}')
        super().__call__(parser, namespace, values, option_string)


def add_cfg_options_argument(parser: argparse.ArgumentParser) -> None:
    """Adds ``--cfg-options key=value ...`` (parsed by :class:`CfgOptionsAction`) to a tool's parser."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        metavar='KEY=VALUE',
        help='override settings of the config (e.g. train_cfg.max_iters=100); the key must exist in the config '
        '(list items by index: train_dataloader.dataset.pipeline.2.scale=(256,256)); a key added on purpose '
        'takes a leading +: +model.decode_head.sampler.type=OHEMPixelSampler',
    )


def apply_cfg_options(cfg: Config, options: Mapping[str, Any] | None, *, fix_workers: bool = True) -> dict[str, Any]:
    """Checks ``--cfg-options`` against ``cfg``, then merges them into it.

    Args:
        cfg: The loaded config; changed in place.
        options: ``key -> value`` as mmengine's ``DictAction`` parses them; ``None`` for none.
        fix_workers: Then turn off ``persistent_workers`` of dataloaders without workers
            (see :func:`disable_idle_persistent_workers`).

    Returns:
        The options as merged: keys without the ``+`` marker.

    Raises:
        ConfigError: A key is not in the config and not marked new, addresses into a value
            that is not a dict or list, or a value cannot have the type the config holds.
    """
    merged = check_cfg_options(cfg, options or {})
    if merged:
        cfg.merge_from_dict(merged)
    if fix_workers:
        disable_idle_persistent_workers(cfg)
    return merged


def check_cfg_options(cfg: Config | Mapping, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validates overrides without changing ``cfg`` (see the module docstring for the rules).

    Args:
        cfg: The loaded config (or a plain nested dict).
        options: ``key -> value``; a key may start with :data:`NEW_KEY_MARKER`.

    Returns:
        ``options`` with the marker stripped from the keys, in the same order.

    Raises:
        ConfigError: The first override that breaks a rule, named with its value.
    """
    root = cfg._cfg_dict if isinstance(cfg, Config) else cfg
    checked = {}
    for raw_key, value in options.items():
        is_new = raw_key.startswith(NEW_KEY_MARKER)
        path = raw_key[len(NEW_KEY_MARKER) :] if is_new else raw_key
        parts = path.split('.')
        if not all(parts):
            raise ConfigError(f'--cfg-options {raw_key}={value}: empty key component; expected a.b.c=value')
        _check_path(root, raw_key, parts, value, is_new)
        checked[path] = value
    return checked


def disable_idle_persistent_workers(cfg: Config | Mapping) -> list[str]:
    """Sets ``persistent_workers=False`` on dataloaders that have no worker processes.

    torch's ``DataLoader`` raises for ``persistent_workers=True`` with ``num_workers=0``;
    ``--cfg-options train_dataloader.num_workers=0`` (to debug in one process) would otherwise
    need a second override. Each change is logged once, naming the dataloader.

    Args:
        cfg: The config after overrides; changed in place.

    Returns:
        The names of the dataloaders changed (``train_dataloader``, ...).
    """
    changed = []
    for split in _DATALOADERS:
        name = f'{split}_dataloader'
        loader = cfg.get(name, None)
        if not isinstance(loader, Mapping):
            continue
        if loader.get('persistent_workers', False) and not loader.get('num_workers', 0):
            loader['persistent_workers'] = False
            changed.append(name)
            print_log(
                f'{name}: num_workers=0, so persistent_workers is turned off '
                '(torch DataLoader keeps workers alive only when there are some)',
                logger='current',
            )
    return changed


def _check_path(root: Mapping, raw_key: str, parts: list[str], value: Any, is_new: bool) -> None:
    """Walks ``parts`` down ``root``; raises where the path cannot be set as mmengine would."""
    node: Any = root
    for depth, part in enumerate(parts):
        parent = '.'.join(parts[:depth])
        is_last = depth == len(parts) - 1
        if isinstance(node, Mapping):
            if part in node:
                node = node[part]
                continue
            if is_new or (part == _DELETE_KEY and is_last):
                return  # from here down the key is new on purpose
            raise ConfigError(_unknown_key_message(raw_key, value, parts, depth, node))
        if isinstance(node, list):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            raise ConfigError(
                f'--cfg-options {raw_key}={value}: {parent!r} is a list of {len(node)} items; '
                f'address an item by its index 0..{len(node) - 1}, not {part!r}'
            )
        if isinstance(node, tuple):
            raise ConfigError(
                f'--cfg-options {raw_key}={value}: {parent!r} is the tuple {node!r}; a tuple can only be '
                f'replaced whole, e.g. {parent}={_example(node)}'
            )
        raise ConfigError(
            f'--cfg-options {raw_key}={value}: {parent!r} is {type(node).__name__} {node!r}, not a dict; '
            f'it has no key {part!r}'
        )
    _check_type(raw_key, value, node)


def _unknown_key_message(raw_key: str, value: Any, parts: list[str], depth: int, node: Mapping) -> str:
    """The error of a path that stops matching at ``parts[depth]``, with the closest key."""
    part, parent = parts[depth], '.'.join(parts[:depth])
    keys = [key for key in node if isinstance(key, str)]
    where = f'in {parent!r}' if parent else 'at the top level'
    message = f'--cfg-options {raw_key}={value}: the config has no key {part!r} {where}'
    close = difflib.get_close_matches(part, keys, n=1)
    if not close:  # a different case is as likely a typo as a swapped letter
        lowered = {key.lower(): key for key in keys}
        close = [lowered[match] for match in difflib.get_close_matches(part.lower(), list(lowered), n=1)]
    if close:
        message += f'; did you mean {".".join([*parts[:depth], close[0]])!r}?'
    elif keys:
        shown = ', '.join(sorted(keys)[:_MAX_LISTED]) + (', ...' if len(keys) > _MAX_LISTED else '')
        message += f'; its keys are: {shown}'
    path = '.'.join(parts)
    return (
        message
        + f'\nTo add a new key on purpose, mark it with a leading {NEW_KEY_MARKER!r}: {NEW_KEY_MARKER}{path}=...'
    )


def _check_type(raw_key: str, value: Any, existing: Any) -> None:
    """Refuses a string where the config holds a number or bool (DictAction parsed it as neither)."""
    if existing is None or not isinstance(value, str):
        return
    if isinstance(existing, bool):
        expected = 'a bool (true or false)'
    elif isinstance(existing, int):
        expected = 'an int'
    elif isinstance(existing, float):
        expected = 'a float'
    else:
        return
    raise ConfigError(
        f'--cfg-options {raw_key}={value}: expected {expected} like the config value {existing!r}, '
        f'got the string {value!r}'
    )


def _example(value: tuple) -> str:
    """``(160, 160)`` as the command line spells it: ``"(160,160)"``."""
    return '(' + ','.join(str(item) for item in value) + ')'


__all__ = [
    'NEW_KEY_MARKER',
    'CfgOptionsAction',
    'add_cfg_options_argument',
    'apply_cfg_options',
    'check_cfg_options',
    'disable_idle_persistent_workers',
]
