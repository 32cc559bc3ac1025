"""The shape every typed view of a project root shares: records by id, snapshots, lookup by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pycrdt import Map

from deepforge_panel.crdt import Id
from deepforge_panel.errors import NotFound

if TYPE_CHECKING:
    from deepforge_panel.project import Project


class _Record(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Record)


class RootView(Generic[T]):
    """A typed view of one root map of the project document, keyed by random ids."""

    root: ClassVar[str]
    kind: ClassVar[str]
    """What one record is called in error messages ("operation", "pipeline", ...)."""

    def __init__(self, project: Project) -> None:
        self.project = project

    @property
    def _map(self) -> Map:
        return self.project.map(self.root)

    def ids(self) -> list[Id]:
        return [Id(key) for key in self._map.keys()]  # noqa: SIM118 - pycrdt types Map.__iter__ as an Iterable

    def record(self, item_id: str) -> Map:
        """The live record ``item_id``; NotFound naming the project when absent."""
        if item_id not in self._map:
            raise NotFound(f"no {self.kind} {item_id!r} in project {self.project.name!r}", item_id)
        return self._map[item_id]

    def get(self, item_id: str) -> T:
        raise NotImplementedError

    def sort_key(self, item: T) -> Any:
        return getattr(item, "name", item.id)

    def all(self) -> list[T]:
        return sorted((self.get(i) for i in self.ids()), key=self.sort_key)

    def find(self, name_or_id: str) -> T:
        """The record whose name or id is ``name_or_id``."""
        items = self.all()
        for item in items:
            if name_or_id in (getattr(item, "name", None), item.id):
                return item
        known = ", ".join(str(getattr(i, "name", i.id)) for i in items) or "none"
        raise NotFound(
            f"no {self.kind} {name_or_id!r} in project {self.project.name!r} ({self.kind}s: {known})", name_or_id
        )
