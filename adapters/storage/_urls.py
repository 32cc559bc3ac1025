"""Parsing storage URLs: which protocol a URL names, and the canonical form of a root URL."""

from __future__ import annotations

import os

__all__ = ["normalize_root", "protocol_of"]


def protocol_of(url: str) -> str:
    """The protocol a URL names ("s3" for "s3://b/k"); a plain path means "file"."""
    first = url.split("::", 1)[0]
    if "://" in first:
        return first.split("://", 1)[0]
    if "::" in url:
        return first  # a chained URL such as "simplecache::s3://bucket/key"
    return "file"


def normalize_root(url: str) -> str:
    """A root URL without trailing slash; a plain path becomes an absolute ``file://`` URL."""
    if "://" not in url and "::" not in url:
        url = "file://" + os.path.abspath(os.path.expanduser(url))
    stripped = url.rstrip("/")
    if stripped.endswith(":"):
        raise ValueError(f"storage root {url!r} names no location (e.g. a bucket or a folder)")
    return stripped
