"""Storage on any fsspec filesystem (local files, S3 via s3fs, ...), through fsspec alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from fsspec.core import url_to_fs

from deepforge_panel.adapters.storage.base import StorageAdapter

__all__ = ["FsspecStorage"]


class FsspecStorage(StorageAdapter):
    """A ``StorageAdapter`` whose primitives are fsspec calls on ``url_to_fs(url, **options)``."""

    protocol: ClassVar[str] = "fsspec"

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.fs, self.root_path = url_to_fs(self.url, **self.options)
        self._local = "file" in _protocols(self.fs)
        if self._local:
            self.fs.makedirs(self.root_path, exist_ok=True)

    def put(self, key: str, data: bytes) -> str:
        """Write ``data`` at ``key``; local files via a temp file and a rename, so readers never see half."""
        path = self._path(key)
        if not self._local:
            self.fs.pipe_file(path, bytes(data))
            return self.url_for(key)
        parent, _, name = path.rpartition("/")
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.pipe_file(tmp, bytes(data))
            self.fs.mv(tmp, path)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
        return self.url_for(key)

    def put_file(self, key: str, path: str | Path) -> str:
        """Copy the local file ``path`` to ``key`` in chunks (fsspec's ``put_file``); local roots through a
        temporary file and a rename, as :meth:`put`."""
        target = self._path(key)
        if not self._local:
            self.fs.put_file(str(path), target)
            return self.url_for(key)
        parent, _, name = target.rpartition("/")
        self.fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.put_file(str(path), tmp)
            self.fs.mv(tmp, target)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
        return self.url_for(key)

    def get(self, key_or_url: str) -> bytes:
        key = self.to_key(key_or_url)
        try:
            return bytes(self.fs.cat_file(self._path(key)))
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise FileNotFoundError(f"No object at {self.url_for(key)}") from exc

    def chunks(self, key_or_url: str, size: int = 1 << 20) -> Iterator[bytes]:
        key = self.to_key(key_or_url)
        try:
            stream = self.fs.open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise FileNotFoundError(f"No object at {self.url_for(key)}") from exc
        with stream:
            while chunk := stream.read(size):
                yield bytes(chunk)

    def exists(self, key_or_url: str) -> bool:
        path = self._path(self.to_key(key_or_url))
        self.fs.invalidate_cache(path)
        return bool(self.fs.isfile(path))

    def size(self, key_or_url: str) -> int:
        key = self.to_key(key_or_url)
        path = self._path(key)
        self.fs.invalidate_cache(path)
        try:
            info = self.fs.info(path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"No object at {self.url_for(key)}") from exc
        if info.get("type") != "file":
            raise FileNotFoundError(f"No object at {self.url_for(key)} (it is a directory)")
        return int(info["size"])

    def delete(self, key_or_url: str) -> None:
        key = self.to_key(key_or_url)
        if not self.exists(key):
            raise FileNotFoundError(f"No object at {self.url_for(key)}")
        self.fs.rm_file(self._path(key))

    def _path(self, key: str) -> str:
        """The filesystem path (no protocol) of a key."""
        self.url_for(key)
        return f"{self.root_path.rstrip('/')}/{key}"


def _protocols(fs: Any) -> tuple[str, ...]:
    """The protocol names a filesystem answers to."""
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
