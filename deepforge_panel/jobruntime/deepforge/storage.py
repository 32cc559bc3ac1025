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
    """Store ``data`` under its hash (equal content is stored once); returns (url, sha256, size). What goes to
    remote storage also goes into this machine's cache, so the next job here does not fetch it back."""
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
    _cache_put(digest, data)
    return url, digest, len(data)


CACHE_ENV = "DEEPFORGE_CACHE"
"""The folder of this machine's cache of remote artifacts (default ``~/.cache/deepforge-panel/artifacts``)."""
CACHE_LIMIT_ENV = "DEEPFORGE_CACHE_LIMIT_MB"
"""Its size limit in MiB (default :data:`CACHE_LIMIT_MB`); past it, the least recently used entries go."""
CACHE_LIMIT_MB = 5 * 1024


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "deepforge-panel" / "artifacts")


def _cache_limit() -> int:
    try:
        return int(float(os.environ.get(CACHE_LIMIT_ENV) or CACHE_LIMIT_MB) * 1024 * 1024)
    except ValueError:
        return CACHE_LIMIT_MB * 1024 * 1024


def _cache_get(digest: str) -> bytes | None:
    """The cached bytes of ``digest`` (marked as just used), None when absent or damaged (then removed)."""
    entry = _cache_dir() / digest
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        entry.unlink(missing_ok=True)
        return None
    try:
        os.utime(entry)  # least recently used goes first: reading counts as use
    except OSError:
        pass
    return data


def _cache_put(digest: str, data: bytes) -> None:
    """Keep ``data`` in the cache, then evict the least recently used entries beyond the size limit."""
    limit = _cache_limit()
    if len(data) > limit:
        return
    folder = _cache_dir()
    _write_atomically(folder / digest, data)
    entries = []
    for entry in folder.iterdir():
        try:
            stat = entry.stat()
        except OSError:
            continue  # removed by another job meanwhile
        if entry.is_file() and not entry.name.endswith(".tmp"):
            entries.append((stat.st_mtime, stat.st_size, entry))
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries, key=lambda item: item[0]):
        if total <= limit:
            break
        if entry.name != digest:
            entry.unlink(missing_ok=True)
            total -= size


def fetch(url: str, options: dict[str, Any], digest: str | None = None) -> bytes:
    """The bytes at ``url``, checked against ``digest``. Remote objects go through this machine's cache, keyed by
    hash (:data:`CACHE_ENV`, at most :data:`CACHE_LIMIT_ENV` MiB), so no job here downloads the same data twice."""
    path = local_path(url)
    remote_digest = digest if digest and path is None else None
    if remote_digest is not None:
        cached = _cache_get(remote_digest)
        if cached is not None:
            return cached
    if path is not None:
        data = path.read_bytes()
    else:
        import fsspec

        fs, remote = fsspec.core.url_to_fs(url, **options)
        data = fs.cat_file(remote)
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"artifact at {url} does not match its hash {digest[:12]}: it was changed or corrupted")
    if remote_digest is not None:
        _cache_put(remote_digest, data)
    return data
