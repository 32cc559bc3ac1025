"""Files brought in as artifacts, with where they came from as their provenance.

A file is stored as its bytes (an operation given it, through an Input node, receives them), unless it is an
artifact's stored form already (a download from another workbench: kept as it is, so its type comes back).
It goes through a :class:`~deepforge_panel.api.uploads.Spool` (a temporary file, hashed as it is written, never
held whole in memory) and on to the project's storage: the REST API's upload route spools the request body as it
arrives, ``deepforge-panel artifact upload`` a local file a piece at a time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.jobruntime.deepforge.storage import content_key
from deepforge_panel.names import check_name

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.api.uploads import Spool
    from deepforge_panel.artifacts import ArtifactId
    from deepforge_panel.project import Project

__all__ = ["RAW", "STORED", "record_upload", "store_spool", "stored_form", "upload_file"]

STORED = b"deepforge:"
"""How an artifact's stored bytes begin (what a download of its stored form gives)."""
RAW = b"deepforge:bytes\n"
"""Put before an uploaded file that is not an artifact's stored bytes: operations given it receive its bytes."""
CHUNK = 1024 * 1024


def stored_form(head: bytes) -> bytes:
    """What goes before a file whose first bytes are ``head``: nothing for an artifact's stored form, else RAW."""
    return b"" if head.startswith(STORED) else RAW


def store_spool(storage: StorageAdapter, spool: Spool) -> str:
    """Put the spooled file in ``storage`` under its content's key (once per content); its URL. Blocks."""
    key = content_key(spool.sha256)
    return storage.url_for(key) if storage.exists(key) else storage.put_file(key, spool.path)


def record_upload(
    project: Project,
    spool: Spool,
    url: str,
    name: str,
    *,
    filename: str,
    through: str,
    author: str,
    kind: str | None = None,
) -> ArtifactId:
    """Add the stored upload to ``project`` as artifact ``name``: of type bytes (or ``kind``), with who uploaded
    it, when, from which file and through what as its provenance."""
    check_name("artifact", name)
    uploaded: dict[str, Any] = {"filename": filename, "through": through, "time": time.time(), "by": author}
    kind = kind or ("bytes" if spool.prefixed == RAW else "object")
    return project.artifacts.add(name, kind, url, spool.sha256, spool.size, {"uploaded": uploaded})


def upload_file(
    project: Project, storage: StorageAdapter, path: str | Path, name: str | None = None, *, author: str
) -> ArtifactId:
    """Upload the local file ``path`` as an artifact (named after the file unless ``name`` is given)."""
    from deepforge_panel.api.uploads import Spool

    source = Path(path)
    name = check_name("artifact", name if name is not None else source.name)
    spool = Spool(stored_form)
    try:
        with source.open("rb") as file:
            while chunk := file.read(CHUNK):
                spool.write(chunk)
        spool.close()
        url = store_spool(storage, spool)
        return record_upload(project, spool, url, name, filename=source.name, through="cli", author=author)
    finally:
        spool.discard()
