"""FsspecStorage on file:// roots passes the storage conformance suite, and writes atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepforge_panel.adapters.storage import FsspecStorage, StorageAdapter, storage
from deepforge_panel.adapters.testing import StorageConformance


class TestFileStorage(StorageConformance):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> StorageAdapter:
        return FsspecStorage(f"file://{tmp_path}/artifacts")


def test_root_folder_is_created(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "root"
    adapter = FsspecStorage(f"file://{root}/")
    assert root.is_dir()
    assert adapter.url == f"file://{root}"


def test_plain_path_means_a_local_folder(tmp_path: Path) -> None:
    adapter = storage(str(tmp_path / "plain"))
    assert isinstance(adapter, FsspecStorage)
    assert adapter.url == f"file://{tmp_path}/plain"
    adapter.put("k.txt", b"v")
    assert (tmp_path / "plain" / "k.txt").read_bytes() == b"v"


def test_put_leaves_no_temporary_files(tmp_path: Path) -> None:
    adapter = FsspecStorage(f"file://{tmp_path}")
    for i in range(3):
        adapter.put("dir/blob.bin", bytes([i]) * 10)
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["blob.bin"]
    assert (tmp_path / "dir" / "blob.bin").read_bytes() == bytes([2]) * 10
