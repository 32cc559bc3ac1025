"""What a domain library provides (the seed's section 8): a catalog, an editor, a code generator, init code.

Libraries register by name, as fsspec registers protocols, so a second one (PyTorch) plugs
in without touching the core. A library owns one root of the project document for its
resources (Keras: ``architectures``); operations reach a resource through a reference
attribute and the job receives the object built by the library's generated code.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from deepforge_panel.project import Project


class Library(ABC):
    """One domain library. Heavy imports (TensorFlow) happen only inside jobs and workers."""

    name: ClassVar[str]
    root: ClassVar[str]
    """The document root holding this library's resources."""

    @abstractmethod
    def catalog(self) -> dict[str, Any]:
        """The metamodel: the concepts a resource is built from (Keras: layer types and their arguments)."""

    @abstractmethod
    def resources(self, project: Project) -> Any:
        """A typed view of this library's resources in ``project``."""

    @abstractmethod
    def generate(self, project: Project, resource_id: str) -> str:
        """Self-contained Python source defining ``build()`` that returns the resource's object."""

    def init_code(self) -> str:
        """Python run in a job before the operation (e.g. custom serialization); empty by default."""
        return ""

    def editor(self, project: Project, session: Any) -> Any:
        """The Panel component that edits this library's resources."""
        raise NotImplementedError(f"library {self.name!r} offers no editor")


_registry: dict[str, type[Library] | str] = {"keras": "deepforge_panel.libraries.keras.library:KerasLibrary"}
_instances: dict[str, Library] = {}


def register_library(name: str, cls_or_path: type[Library] | str, clobber: bool = False) -> None:
    """Make a library available by name; ``cls_or_path`` may be ``"module:Class"`` (imported lazily)."""
    if name in _registry and not clobber:
        raise ValueError(f"a library named {name!r} is already registered; pass clobber=True to replace it")
    _registry[name] = cls_or_path
    _instances.pop(name, None)


def library(name: str) -> Library:
    """The library registered as ``name``."""
    if name not in _instances:
        if name not in _registry:
            raise KeyError(f"no library {name!r} (libraries: {', '.join(sorted(_registry))})")
        target = _registry[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
        _instances[name] = target()
    return _instances[name]


def available_libraries() -> list[str]:
    return sorted(_registry)
