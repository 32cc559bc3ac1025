"""Artifacts: data kept in a storage adapter, known to the project by URL, hash and provenance."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NewType

from pycrdt import Map

from deepforge_panel.crdt import as_int, dumps, loads, new_id
from deepforge_panel.errors import ProjectError
from deepforge_panel.names import check_name
from deepforge_panel.views import RootView

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter

ArtifactId = NewType("ArtifactId", str)


@dataclass(frozen=True)
class Artifact:
    id: ArtifactId
    name: str
    type: str
    url: str
    hash: str
    size: int
    created: float
    provenance: dict[str, Any] | None

    @property
    def job(self) -> str | None:
        return (self.provenance or {}).get("job")


class ArtifactsView(RootView[Artifact]):
    """The ``artifacts`` root: id -> {name, type, url, hash, size, created, provenance (JSON)}."""

    root = "artifacts"
    kind = "artifact"

    def get(self, artifact_id: str) -> Artifact:
        rec = self.record(artifact_id)
        return Artifact(
            id=ArtifactId(artifact_id),
            name=rec["name"],
            type=rec["type"],
            url=rec["url"],
            hash=rec["hash"],
            size=as_int(rec["size"]),
            created=float(rec["created"]),
            provenance=loads(rec.get("provenance")),
        )

    def sort_key(self, item: Artifact) -> float:
        return item.created

    def names(self) -> list[str]:
        """Every artifact name, once, newest first: what a user picks an artifact by."""
        return list(dict.fromkeys(a.name for a in reversed(self.all())))

    def add(
        self, name: str, type: str, url: str, hash: str, size: int, provenance: dict[str, Any] | None = None
    ) -> ArtifactId:
        check_name("artifact", name)
        artifact_id = ArtifactId(new_id("a"))
        with self.project.transaction():
            self.add_in_transaction(artifact_id, name, type, url, hash, size, provenance)
        return artifact_id

    def add_in_transaction(
        self,
        artifact_id: str,
        name: str,
        type: str,
        url: str,
        hash: str,
        size: int,
        provenance: dict[str, Any] | None,
    ) -> None:
        """Record an artifact inside a transaction the caller already holds."""
        self._map[artifact_id] = Map(
            {
                "name": name,
                "type": type,
                "url": url,
                "hash": hash,
                "size": size,
                "created": time.time(),
                "provenance": dumps(provenance),
            }
        )

    def remove(self, artifact_id: str) -> None:
        with self.project.transaction():
            del self._map[artifact_id]


def unreachable(artifact: Artifact, storage: StorageAdapter) -> str | None:
    """Why ``storage`` cannot read ``artifact``, or None if it can.

    An artifact made on a peer records where that peer stored it; this workbench reads it only if that is
    within its own storage (a bucket both use, say), never from a URL elsewhere.
    """
    if storage.reaches(artifact.url):
        return None
    return (
        f"{artifact.name!r} is stored at {artifact.url}, not reachable from here (this workbench's storage is "
        f"{storage.url}); its provenance is still here, and a peer sharing that storage can read it"
    )


def read_artifact(artifact: Artifact, storage: StorageAdapter) -> bytes:
    """The artifact's stored bytes; :class:`ProjectError` saying where it is when this storage cannot reach it."""
    problem = unreachable(artifact, storage)
    if problem is not None:
        raise ProjectError(problem, artifact.name)
    return storage.get(artifact.url)
