"""FsspecStorage on s3:// passes the storage conformance suite against a real S3 server (moto)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from deepforge_panel.adapters.storage import FsspecStorage, StorageAdapter, storage
from deepforge_panel.adapters.testing import StorageConformance
from tests.conftest import BUCKET


class TestS3Storage(StorageConformance):
    @pytest.fixture
    def storage(self, s3_options: dict[str, Any]) -> StorageAdapter:
        return FsspecStorage(f"s3://{BUCKET}/{uuid.uuid4().hex}", **s3_options)


def test_s3_urls_get_the_fsspec_adapter(s3_options: dict[str, Any]) -> None:
    adapter = storage(f"s3://{BUCKET}/via-registry/", **s3_options)
    assert isinstance(adapter, FsspecStorage)
    assert adapter.url == f"s3://{BUCKET}/via-registry"
    assert adapter.put("k", b"v") == f"s3://{BUCKET}/via-registry/k"
