"""FsspecStorage on s3:// passes the storage conformance suite against a real S3 server (moto)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from storage_suite import StorageConformance

from adapters.storage import FsspecStorage, StorageAdapter, storage

BUCKET = "deepforge-test"


@pytest.fixture(scope="module")
def s3_options() -> Iterator[dict[str, Any]]:
    """A moto S3 server on a free local port, with one bucket; yields the fsspec options to reach it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}"},
    }
    import s3fs

    s3fs.S3FileSystem(skip_instance_cache=True, **options).mkdir(BUCKET)
    try:
        yield options
    finally:
        server.stop()


class TestS3Storage(StorageConformance):
    @pytest.fixture
    def storage(self, s3_options: dict[str, Any]) -> StorageAdapter:
        return FsspecStorage(f"s3://{BUCKET}/{uuid.uuid4().hex}", **s3_options)


def test_s3_urls_get_the_fsspec_adapter(s3_options: dict[str, Any]) -> None:
    adapter = storage(f"s3://{BUCKET}/via-registry/", **s3_options)
    assert isinstance(adapter, FsspecStorage)
    assert adapter.url == f"s3://{BUCKET}/via-registry"
    assert adapter.put("k", b"v") == f"s3://{BUCKET}/via-registry/k"
