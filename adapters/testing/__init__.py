"""Conformance suites every adapter inherits, shipped in the package as fsspec ships ``fsspec/tests/abstract``.

A third-party adapter's tests subclass a suite and supply its one fixture (``storage``; for
:class:`ComputeConformance`, a started ``adapter`` on the class's ``aio`` loop)::

    from deepforge_panel.adapters.testing import StorageConformance

    class TestMyStorage(StorageConformance):
        @pytest.fixture
        def storage(self, tmp_path):
            return MyStorage(f"my://{tmp_path}")

Needs pytest (the ``test`` extra); nothing in the package imports this at run time.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite(
    "deepforge_panel.adapters.testing.compute_suite", "deepforge_panel.adapters.testing.storage_suite"
)

from deepforge_panel.adapters.testing.compute_suite import ComputeConformance  # noqa: E402
from deepforge_panel.adapters.testing.loop_thread import LoopThread  # noqa: E402
from deepforge_panel.adapters.testing.storage_suite import StorageConformance  # noqa: E402

__all__ = ["ComputeConformance", "LoopThread", "StorageConformance"]
