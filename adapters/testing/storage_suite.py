"""Conformance tests every storage adapter inherits, in the style of ``fsspec/tests/abstract``.

A subclass supplies one fixture, ``storage``: an adapter on a fresh, empty root for each test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deepforge_panel.adapters.storage import StorageAdapter
from deepforge_panel.adapters.storage import storage as make_storage

__all__ = ["StorageConformance"]

FIVE_MB = os.urandom(5 * 1024 * 1024)

# Run in a separate process: given {"config", "read", "write", "payload"} on stdin, reach the
# storage with nothing but fsspec and the job config; print what was read.
JOB_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys
    import fsspec

    request = json.load(sys.stdin)
    config = request["config"]
    with fsspec.open(config["url"] + "/" + request["read"], "rb", **config["options"]) as f:
        data = f.read()
    with fsspec.open(config["url"] + "/" + request["write"], "wb", **config["options"]) as f:
        f.write(request["payload"].encode())
    print(json.dumps({"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}))
    """
)


class StorageConformance:
    """The contract of ``StorageAdapter``; see its docstrings."""

    @pytest.fixture
    def storage(self) -> StorageAdapter:
        raise NotImplementedError("a conformance subclass supplies the `storage` fixture")

    @pytest.mark.parametrize(
        "data",
        [b"", b"hello", bytes(range(256)) * 4, FIVE_MB],
        ids=["empty", "small", "binary", "5MB"],
    )
    def test_put_get_roundtrip(self, storage: StorageAdapter, data: bytes) -> None:
        url = storage.put("blob.bin", data)
        assert url == storage.url_for("blob.bin")
        assert storage.get("blob.bin") == data
        assert storage.get(url) == data

    def test_put_file_stores_a_local_file(self, storage: StorageAdapter, tmp_path: Path) -> None:
        source = tmp_path / "upload.bin"
        source.write_bytes(FIVE_MB)
        url = storage.put_file("uploads/u.bin", source)
        assert url == storage.url_for("uploads/u.bin")
        assert storage.size(url) == len(FIVE_MB) and storage.get(url) == FIVE_MB
        assert source.read_bytes() == FIVE_MB, "the local file is left as it was"
        with pytest.raises(ValueError, match="not a storage key"):
            storage.put_file("../outside.bin", source)

    def test_chunks_read_an_object_in_pieces(self, storage: StorageAdapter) -> None:
        url = storage.put("pieces.bin", FIVE_MB)
        pieces = list(storage.chunks(url, size=1 << 20))
        assert b"".join(pieces) == FIVE_MB and max(len(p) for p in pieces) <= 1 << 20 and len(pieces) >= 5
        assert list(storage.chunks(storage.put("empty.bin", b""))) == []
        with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
            list(storage.chunks("missing.bin"))

    def test_nested_keys_and_overwrite(self, storage: StorageAdapter) -> None:
        storage.put("runs/r1/metrics.json", b'{"loss": 1}')
        storage.put("runs/r1/metrics.json", b'{"loss": 0.5}')
        storage.put("runs/r2/metrics.json", b"other")
        assert storage.get("runs/r1/metrics.json") == b'{"loss": 0.5}'
        assert storage.get("runs/r2/metrics.json") == b"other"

    def test_reaches_only_urls_under_its_root(self, storage: StorageAdapter) -> None:
        """An artifact a peer stored elsewhere (another folder, another bucket) is not this storage's to read."""
        assert storage.reaches(storage.put("peer/made.bin", b"x"))
        assert not storage.reaches(storage.url), "the root itself is no object"
        assert not storage.reaches(storage.url + "-sibling/made.bin")
        assert not storage.reaches("file:///etc/passwd") and not storage.reaches("s3://another-bucket/x")

    def test_exists_size_delete(self, storage: StorageAdapter) -> None:
        assert not storage.exists("a/b.bin")
        url = storage.put("a/b.bin", b"12345")
        assert storage.exists("a/b.bin") and storage.exists(url)
        assert storage.size("a/b.bin") == 5
        assert storage.size(url) == 5
        assert not storage.exists("a"), "a folder is not an object"
        storage.delete(url)
        assert not storage.exists("a/b.bin")

    @pytest.mark.parametrize("operation", ["get", "size", "delete"])
    def test_missing_key_raises_file_not_found_naming_the_url(self, storage: StorageAdapter, operation: str) -> None:
        url = storage.url_for("missing/nothing.bin")
        with pytest.raises(FileNotFoundError, match=url.replace(".", r"\.")):
            getattr(storage, operation)("missing/nothing.bin")

    def test_url_for_and_key_for_are_inverse(self, storage: StorageAdapter) -> None:
        for key in ["x", "a/b/c.json", "with space/ü.txt"]:
            url = storage.url_for(key)
            assert url.startswith(storage.url + "/")
            assert storage.key_for(url) == key

    def test_key_for_a_foreign_url_names_both(self, storage: StorageAdapter) -> None:
        foreign = "memory://elsewhere/x.bin"
        with pytest.raises(ValueError) as info:
            storage.key_for(foreign)
        assert foreign in str(info.value) and storage.url in str(info.value)

    @pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "./a", "a/"])
    def test_malformed_keys_are_refused(self, storage: StorageAdapter, key: str) -> None:
        with pytest.raises(ValueError):
            storage.url_for(key)

    def test_registry_builds_an_equivalent_adapter(self, storage: StorageAdapter) -> None:
        storage.put("shared.bin", b"seen by both")
        twin = make_storage(storage.url, **storage.options)
        assert type(twin) is type(storage)
        assert twin.get("shared.bin") == b"seen by both"

    def test_job_config_works_with_plain_fsspec_in_another_process(self, storage: StorageAdapter) -> None:
        storage.put("inputs/data.bin", FIVE_MB)
        request = {
            "config": storage.job_config(),
            "read": "inputs/data.bin",
            "write": "outputs/result.txt",
            "payload": "done",
        }
        assert json.loads(json.dumps(request)) == request, "the job config must be JSON"
        proc = subprocess.run(
            [sys.executable, "-c", JOB_SCRIPT],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {"size": len(FIVE_MB), "sha256": hashlib.sha256(FIVE_MB).hexdigest()}
        assert storage.get("outputs/result.txt") == b"done"
        assert storage.size("outputs/result.txt") == 4
