"""Every test starts in the segtools registry scope; the slowest test files are collected first.

mmengine keeps the current default scope in a process-wide ``DefaultScope`` instance, and a
``Runner`` built from a config without ``default_scope`` switches it to ``'mmengine'``; later
tests that build ``dict(type='ResNetV1c')`` by name would then fail depending on test order.
"""

from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

TESTS = Path(__file__).resolve().parent
# End to end: tools run in processes, compilers, every config. Most of the suite's time.
END_TO_END = ('test_tools', 'test_csrc', 'test_configs')


@pytest.fixture(autouse=True)
def _segtools_default_scope():
    with DefaultScope.overwrite_default_scope('segtools'):
        yield


def _cost_rank(item: pytest.Item) -> int:
    """0: a file of end-to-end tests with a slow or multi-process test; 1: other end-to-end files; 2: the rest."""
    path = Path(item.path)
    if TESTS not in path.parents or path.relative_to(TESTS).parts[0] not in END_TO_END:
        return 2
    marked = any(item.get_closest_marker(name) for name in ('slow', 'dist'))
    return 0 if marked else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow files first: pytest-xdist (``--dist loadfile --no-loadscope-reorder``, as ``make test`` runs
    it) hands out files in this order, so the many quick files at the end keep both workers busy
    until the last minute instead of one worker running a long file alone."""
    module_rank: dict[Path, int] = {}
    for item in items:
        module_rank[item.path] = min(module_rank.get(item.path, 2), _cost_rank(item))
    items.sort(key=lambda item: module_rank[item.path])  # stable: the order inside a rank stays
