"""Content-addressed artifact storage as a job sees it: plain fsspec, a root URL and options."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any


def content_key(digest: str) -> str:
    """Where an object with sha256 ``digest`` lives under a storage root."""
    return f"{digest[:2]}/{digest}"


def put_content(root: str, options: dict[str, Any], data: bytes) -> tuple[str, str, int]:
    """Store ``data`` under its hash (once: equal content is stored once); returns (url, sha256, size)."""
    import fsspec

    digest = hashlib.sha256(data).hexdigest()
    url = root.rstrip("/") + "/" + content_key(digest)
    fs, path = fsspec.core.url_to_fs(url, **options)
    if not fs.exists(path):
        parent = path.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        if _is_local(fs):
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            fs.pipe_file(tmp, data)
            fs.mv(tmp, path)
        else:
            fs.pipe_file(path, data)
    return url, digest, len(data)


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


def _cache_dir() -> Path:
    return Path(os.environ.get("DEEPFORGE_CACHE") or Path.home() / ".cache" / "deepforge-panel" / "artifacts")


def fetch(url: str, options: dict[str, Any], digest: str | None = None) -> bytes:
    """The bytes at ``url``; remote objects are cached locally by hash so no job downloads twice."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **options)
    cached = _cache_dir() / digest if digest and not _is_local(fs) else None
    if cached is not None and cached.exists():
        return cached.read_bytes()
    data = fs.cat_file(path)
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"artifact at {url} does not match its hash {digest[:12]}: it was changed or corrupted")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        tmp.replace(cached)
    return data
