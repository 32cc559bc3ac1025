"""Secrets (the keys of S3-compatible stores), per home, in a file only its owner can read.

Never in a project document, so never in a commit, a peer's copy or a Yjs client; never in a job
folder either: a job gets the keys it needs through its environment. The file is ``<home>/secrets.json``,
written atomically with mode 0600, keyed by store (``s3 <endpoint> <bucket>``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["SECRETS_FILE", "SecretStore", "write_private_json"]

SECRETS_FILE = "secrets.json"


def write_private_json(path: Path, data: Any, *, sort_keys: bool = False) -> None:
    """``data`` as JSON at ``path``, which only its owner may read (mode 0600), whole or not at all (written
    beside it, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=2, sort_keys=sort_keys)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


class SecretStore:
    """The secrets of one home folder."""

    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / SECRETS_FILE

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        write_private_json(self.path, data, sort_keys=True)

    @staticmethod
    def _s3(endpoint: str, bucket: str) -> str:
        return f"s3 {endpoint or 'aws'} {bucket}"

    def s3_credentials(self, endpoint: str, bucket: str) -> tuple[str, str] | None:
        """(access key, secret key) for the bucket at ``endpoint``, or None if none are kept."""
        entry = self._read().get(self._s3(endpoint, bucket))
        if not entry or "key" not in entry or "secret" not in entry:
            return None
        return entry["key"], entry["secret"]

    def set_s3_credentials(self, endpoint: str, bucket: str, key: str, secret: str) -> None:
        data = self._read()
        data[self._s3(endpoint, bucket)] = {"key": key, "secret": secret}
        self._write(data)

    def has_s3_credentials(self, endpoint: str, bucket: str) -> bool:
        return self.s3_credentials(endpoint, bucket) is not None
