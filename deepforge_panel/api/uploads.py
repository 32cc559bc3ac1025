"""Request bodies streamed to a temporary file as they arrive (never held whole in memory), hashed on the way.

A route that takes an upload (``Route.upload``) gets the :class:`Spool` its body was written to; a
``prefix`` function, given the body's first bytes, may put bytes before it (an artifact's header).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from deepforge_panel.api.declare import ApiError

__all__ = ["MAX_UPLOAD", "Spool"]

MAX_UPLOAD = 64 * 1024**3
"""Largest upload accepted (64 GiB); the server's default body limit (100 MB) is raised to it for uploads."""
SNIFF = 64
"""Bytes of the body a ``prefix`` function sees."""


class Spool:
    """One upload on its way to disk: its path, size and sha256 (of the prefix and the body, as stored)."""

    def __init__(self, prefix: Callable[[bytes], bytes] | None = None, folder: str | Path | None = None) -> None:
        handle, name = tempfile.mkstemp(prefix="deepforge-upload-", dir=folder)
        self.path = Path(name)
        self._file = os.fdopen(handle, "wb")
        self._hash = hashlib.sha256()
        self._prefix = prefix
        self._head = b""
        self.size = 0
        """Bytes written so far, the prefix included."""
        self.body_size = 0
        """Bytes of the request body received."""
        self.prefixed = b""
        """What the ``prefix`` function put before the body."""

    def write(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.body_size > MAX_UPLOAD:
            raise ApiError(413, f"the upload is larger than {MAX_UPLOAD} bytes")
        if self._prefix is not None:  # wait for enough of the body to decide the prefix
            self._head += chunk
            if len(self._head) < SNIFF:
                return
            chunk, self._head = self._head, b""
            self.prefixed = self._prefix(chunk[:SNIFF])
            self._emit(self.prefixed)
            self._prefix = None
        self._emit(chunk)

    def _emit(self, data: bytes) -> None:
        if data:
            self._file.write(data)
            self._hash.update(data)
            self.size += len(data)

    def close(self) -> None:
        """The body is complete: write what is held back and close the file."""
        if self._prefix is not None:
            head, self._head = self._head, b""
            self.prefixed = self._prefix(head[:SNIFF])
            self._emit(self.prefixed)
            self._prefix = None
            self._emit(head)
        self._file.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Remove the temporary file (after it was stored, or when the request failed)."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)
