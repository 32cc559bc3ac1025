"""Content-addressed artifact storage as a job sees it: a root URL and fsspec options.

Local roots (``file://``) are read and written with plain file I/O, sparing every job the
~100 ms import of fsspec; any other protocol goes through fsspec. The options (credentials,
endpoint) come from the environment, never from the job folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

OPTIONS_ENV = "DEEPFORGE_STORAGE_OPTIONS"
"""The environment variable that holds the storage's fsspec options as JSON."""


def options_from_environment() -> dict[str, Any]:
    """The storage's fsspec options given to this job, ``{}`` if none."""
    return json.loads(os.environ.get(OPTIONS_ENV) or "{}")


def content_key(digest: str) -> str:
    """Where an object with sha256 ``digest`` lives under a storage root."""
    return f"{digest[:2]}/{digest}"


def local_path(url: str) -> Path | None:
    """The filesystem path of a ``file://`` URL (or bare path), None for remote URLs."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(url)
    return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def put_content(root: str, options: dict[str, Any], data: bytes) -> tuple[str, str, int]:
    """Store ``data`` under its hash (equal content is stored once); returns (url, sha256, size)."""
    digest = hashlib.sha256(data).hexdigest()
    url = root.rstrip("/") + "/" + content_key(digest)
    path = local_path(url)
    if path is not None:
        if not path.exists():
            _write_atomically(path, data)
        return url, digest, len(data)
    import fsspec

    fs, remote = fsspec.core.url_to_fs(url, **options)
    if not fs.exists(remote):
        fs.pipe_file(remote, data)
    return url, digest, len(data)


def _cache_dir() -> Path:
    return Path(os.environ.get("DEEPFORGE_CACHE") or Path.home() / ".cache" / "deepforge-panel" / "artifacts")


def fetch(url: str, options: dict[str, Any], digest: str | None = None) -> bytes:
    """The bytes at ``url``, checked against ``digest``; remote objects are cached by hash so no job downloads twice."""
    path = local_path(url)
    cached = _cache_dir() / digest if digest and path is None else None
    if cached is not None and cached.exists():
        return cached.read_bytes()
    if path is not None:
        data = path.read_bytes()
    else:
        import fsspec

        fs, remote = fsspec.core.url_to_fs(url, **options)
        data = fs.cat_file(remote)
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"artifact at {url} does not match its hash {digest[:12]}: it was changed or corrupted")
    if cached is not None:
        _write_atomically(cached, data)
    return data
