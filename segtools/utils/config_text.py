"""Formats each distinct config text once: mmengine's ``Config.pretty_text`` runs yapf on every read.

A training run reads ``pretty_text`` for the log, for the message hub, for the config it dumps to
the work dir and once per saved checkpoint (``meta['cfg']``), each time formatting the same text
from scratch with yapf: 0.7 s a read for the demo config on a 2-core machine, about a quarter of a
4-iteration run that saves every iteration. yapf's output depends only on its input text and style,
so :func:`memoize_config_formatting` puts a small cache in front of the formatter that
``mmengine.config.config`` calls. A config that changes gives another text and is formatted anew;
what mmengine writes is unchanged.
"""

import functools
from collections.abc import Callable

import mmengine.config.config as mmengine_config

# Distinct texts kept (a run formats one or two: the config, perhaps a changed copy).
CACHE_SIZE = 8


def _freeze(value: object) -> object:
    """A hashable equivalent of a style argument (yapf takes dicts)."""
    if isinstance(value, dict):
        return tuple(sorted((key, _freeze(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def memoized_formatter(format_code: Callable[..., tuple[str, bool]]) -> Callable[..., tuple[str, bool]]:
    """``format_code`` (yapf's ``FormatCode(text, **options) -> (text, changed)``) with an LRU cache.

    Args:
        format_code: The formatter to wrap.

    Returns:
        A function with the same signature and results; repeated calls with an equal text and
        equal options return the first call's result. The wrapped formatter stays reachable as
        ``__wrapped__``.
    """
    options_of: dict[tuple, dict] = {}  # hashable form -> the options as given (one per style in use)

    @functools.lru_cache(maxsize=CACHE_SIZE)
    def cached(text: str, frozen_options: tuple) -> tuple[str, bool]:
        return format_code(text, **options_of[frozen_options])

    @functools.wraps(format_code)
    def format_once(text: str, **options) -> tuple[str, bool]:
        frozen = _freeze(options)
        options_of.setdefault(frozen, options)
        return cached(text, frozen)

    format_once.cache_info = cached.cache_info
    return format_once


def memoize_config_formatting() -> None:
    """Makes ``Config.pretty_text`` format each distinct text once per process (idempotent)."""
    current = mmengine_config.FormatCode
    if getattr(current, 'cache_info', None) is None:
        mmengine_config.FormatCode = memoized_formatter(current)
