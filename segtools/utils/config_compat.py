"""Loading a config file for the tools, MMSegmentation 1.x configs included.

mmseg's configs say ``default_scope = 'mmseg'`` (from their ``_base_/default_runtime.py``); run
as they are, the runner would look every ``type=`` up in mmseg's registries, which segtools
does not have. segtools implements the same modules under the same names in its ``'segtools'``
scope, so :func:`load_config` maps the scope (and any ``_scope_='mmseg'`` inside the config)
onto segtools' with one log line, and every name then resolves to the segtools class or, when
segtools has none, to the mmengine/mmcv one its registries inherit — or fails naming it.
"""

from collections.abc import MutableMapping, MutableSequence
from pathlib import Path

from mmengine.config import Config
from mmengine.logging import print_log

from segtools.errors import ConfigError
from segtools.registry import SCOPE

# Scopes of other OpenMMLab codebases whose segmentation configs segtools runs under its own.
FOREIGN_SCOPES = ('mmseg',)


def load_config(path: str | Path) -> Config:
    """``Config.fromfile(path)`` with foreign scopes mapped to segtools' (:func:`adapt_scope`).

    Args:
        path: A ``.py`` config file (``_base_`` files are merged by mmengine).

    Returns:
        The loaded config.

    Raises:
        ConfigError: The file does not exist.
    """
    if not Path(path).is_file():
        raise ConfigError(f'config {str(path)!r} does not exist')
    cfg = Config.fromfile(str(path))
    changed = adapt_scope(cfg)
    if changed:
        print_log(
            f'{path}: an MMSegmentation config; its scope {changed} is run as {SCOPE!r} (segtools implements the '
            'same modules under the same names)',
            logger='current',
        )
    return cfg


def adapt_scope(cfg: Config) -> list[str]:
    """Rewrites ``default_scope`` and nested ``_scope_`` values of :data:`FOREIGN_SCOPES` to segtools'.

    Args:
        cfg: A loaded config; changed in place.

    Returns:
        The foreign scopes found (sorted, without repeats); empty when nothing changed.
    """
    found = set()
    if cfg.get('default_scope', None) in FOREIGN_SCOPES:
        found.add(cfg.default_scope)
        cfg.default_scope = SCOPE
    for key in list(cfg.keys()):
        found |= _adapt_nested(cfg[key])
    return sorted(found)


def _adapt_nested(node: object) -> set[str]:
    found = set()
    if isinstance(node, MutableMapping):
        if node.get('_scope_') in FOREIGN_SCOPES:
            found.add(node['_scope_'])
            node['_scope_'] = SCOPE
        for value in node.values():
            found |= _adapt_nested(value)
    elif isinstance(node, MutableSequence):
        for value in node:
            found |= _adapt_nested(value)
    return found


__all__ = ['FOREIGN_SCOPES', 'adapt_scope', 'load_config']
