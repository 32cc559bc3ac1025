"""The storage adapter interface: artifacts addressed by slash-separated keys under a root URL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from deepforge_panel.adapters.storage._urls import normalize_root

__all__ = ["StorageAdapter"]


class StorageAdapter(ABC):
    """Artifacts in one place, addressed by keys (slash-separated paths) under a root URL."""

    protocol: ClassVar[str]

    def __init__(self, url: str, **options: Any) -> None:
        """``url`` is the root ("file:///home/u/art", "s3://bucket/prefix"); options: fsspec storage_options."""
        self.url: str = normalize_root(url)
        self.options: dict[str, Any] = dict(options)

    @abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` at ``key`` (atomically where the backend allows) and return its full URL."""

    def put_file(self, key: str, path: str | Path) -> str:
        """Store the local file ``path`` at ``key`` and return its full URL; adapters stream it in chunks (an
        upload of any size), this default reads it whole."""
        return self.put(key, Path(path).read_bytes())

    @abstractmethod
    def get(self, key_or_url: str) -> bytes:
        """The bytes stored at a key or URL; FileNotFoundError naming the URL if there are none."""

    def chunks(self, key_or_url: str, size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes at a key or URL in pieces of at most ``size`` (a download of any size); adapters read them as
        they go, this default reads the object whole. FileNotFoundError naming the URL if there are none."""
        data = self.get(key_or_url)
        for start in range(0, len(data), size):
            yield data[start : start + size]

    @abstractmethod
    def exists(self, key_or_url: str) -> bool:
        """Whether an object is stored at the key or URL."""

    @abstractmethod
    def size(self, key_or_url: str) -> int:
        """Size in bytes of the object at the key or URL; FileNotFoundError naming the URL if missing."""

    @abstractmethod
    def delete(self, key_or_url: str) -> None:
        """Remove the object at the key or URL; FileNotFoundError naming the URL if missing."""

    def url_for(self, key: str) -> str:
        """The full URL of ``key``, after checking it is a clean relative key."""
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"{key!r} is not a storage key (slash-separated, relative, no '.', '..' or empty parts)")
        return f"{self.url}/{key}"

    def key_for(self, url: str) -> str:
        """The key of a URL under this root (inverse of ``url_for``); ValueError if it is elsewhere."""
        prefix = self.url + "/"
        if not url.startswith(prefix) or len(url) == len(prefix):
            raise ValueError(f"URL {url!r} is not under this storage's root {self.url!r}")
        return url[len(prefix) :]

    def reaches(self, url: str) -> bool:
        """Whether ``url`` is under this storage's root, so this storage can read it (an artifact a peer stored
        elsewhere, in its own folder or another bucket, is not: no URL outside the root is ever opened)."""
        prefix = self.url + "/"
        return url.startswith(prefix) and len(url) > len(prefix)

    def to_key(self, key_or_url: str) -> str:
        """A key, whether given a key or a URL under the root; what the primitives accept."""
        if "://" in key_or_url or "::" in key_or_url:
            return self.key_for(key_or_url)
        self.url_for(key_or_url)
        return key_or_url

    def job_config(self) -> dict[str, Any]:
        """What a job process needs to reach this storage with plain fsspec: ``fsspec.open(url, **options)``."""
        return {"url": self.url, "options": dict(self.options)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
