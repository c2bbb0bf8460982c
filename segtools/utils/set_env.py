"""Registration of every segtools module and the default scope (and config formatting done once)."""

import datetime
import importlib
import warnings

from mmengine.registry import DefaultScope

from segtools.registry import SCOPE

from .config_text import memoize_config_formatting

# Packages whose import registers modules; later packages join as they land.
_PACKAGES = ('segtools.models', 'segtools.datasets', 'segtools.evaluation', 'segtools.engine', 'segtools.visualization')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Imports every segtools package that registers modules.

    Args:
        init_default_scope: Also make ``'segtools'`` the default scope, so that
            ``MODELS.build(dict(type=...))`` and mmcv's ``build_*_layer`` look in
            segtools' registries first. When another scope is current, a new
            uniquely named ``'segtools'`` scope instance is created (as mmseg does).

    Also makes ``Config.pretty_text`` format each distinct config text once per process
    (:mod:`.config_text`), instead of once per log line, dump and saved checkpoint.
    """
    for package in _PACKAGES:
        importlib.import_module(package)
    memoize_config_formatting()
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created(SCOPE):
        DefaultScope.get_instance(SCOPE, scope_name=SCOPE)
        return
    if current.scope_name != SCOPE:
        warnings.warn(
            f'The current default scope "{current.scope_name}" is not "{SCOPE}"; register_all_modules '
            f'creates a new default scope named "{SCOPE}-<timestamp>".',
            stacklevel=2,
        )
        name = f'{SCOPE}-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name=SCOPE)
