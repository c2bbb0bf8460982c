"""Every test starts in the segtools registry scope.

mmengine keeps the current default scope in a process-wide ``DefaultScope`` instance, and a
``Runner`` built from a config without ``default_scope`` switches it to ``'mmengine'``; later
tests that build ``dict(type='ResNetV1c')`` by name would then fail depending on test order.
"""

import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def _segtools_default_scope():
    with DefaultScope.overwrite_default_scope('segtools'):
        yield
