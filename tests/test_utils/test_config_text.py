"""segtools.utils.config_text: each distinct config text is formatted once, to the same text as before."""

from pathlib import Path

import mmengine.config.config as mmengine_config
import pytest
from mmengine.config import Config
from yapf.yapflib.yapf_api import FormatCode

from segtools.utils import register_all_modules
from segtools.utils.config_text import memoize_config_formatting, memoized_formatter

DEMO = Path(__file__).resolve().parents[2] / 'configs' / 'demo' / 'fcn_r18-d8_brain-atlas.py'


@pytest.fixture
def plain_formatter(monkeypatch):
    """mmengine's module as it ships (yapf's own FormatCode), restored after the test."""
    monkeypatch.setattr(mmengine_config, 'FormatCode', FormatCode)


def test_pretty_text_is_unchanged_and_formatted_once_per_text(plain_formatter, monkeypatch):
    cfg = Config.fromfile(DEMO)
    expected = cfg.pretty_text  # yapf itself

    calls = []

    def counting(text, **options):
        calls.append(text)
        return FormatCode(text, **options)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counting)
    memoize_config_formatting()
    memoize_config_formatting()  # idempotent: one cache, not a cache of a cache
    assert mmengine_config.FormatCode.__wrapped__ is counting
    assert [cfg.pretty_text for _ in range(4)] == [expected] * 4
    assert len(calls) == 1

    # A changed config is another text: formatted anew, and the change is in it.
    cfg.train_cfg.max_iters = 7
    changed = cfg.pretty_text
    assert len(calls) == 2 and changed != expected and 'max_iters=7' in changed
    cfg.train_cfg.max_iters = 500
    assert cfg.pretty_text == expected and len(calls) == 2


def test_options_are_part_of_the_key():
    seen = []

    def echo(text, **options):
        seen.append(options)
        return f'{text}|{sorted(options.items())}', True

    cached = memoized_formatter(echo)
    first = cached('x = 1', style_config={'based_on_style': 'pep8', 'column_limit': 79})
    assert cached('x = 1', style_config={'column_limit': 79, 'based_on_style': 'pep8'}) == first
    other = cached('x = 1', style_config={'based_on_style': 'pep8', 'column_limit': 120})
    assert other != first and len(seen) == 2
    assert cached.cache_info().hits == 1


def test_register_all_modules_installs_it(plain_formatter):
    register_all_modules(init_default_scope=False)
    assert mmengine_config.FormatCode.__wrapped__ is FormatCode
    assert Config.fromfile(DEMO).pretty_text.startswith('allow_partial_load')
