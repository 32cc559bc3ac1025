"""What a domain library provides (the seed's section 8): a document root, a catalog, an editor, a code generator,
init code and CLI commands.

Libraries register by name in the same :class:`~deepforge_panel.registry.Registry` as the adapters, as fsspec
registers protocols, so a second one (PyTorch) plugs in without touching the core: in code with
:func:`register_library`, or from an installed distribution through an entry point in group
``deepforge_panel.libraries`` (``name = "package.module:Class"``). A library owns one *design* root of the
project document for its resources (Keras: ``architectures``); the core builds its document views, undo scope,
workbench tabs and CLI from the registered libraries. Operations reach a resource through a reference
attribute and the job receives the object built by the library's generated code.
"""

from __future__ import annotations

import argparse
import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from deepforge_panel.registry import Registry

if TYPE_CHECKING:
    from deepforge_panel.downloads import Converter
    from deepforge_panel.errors import ProjectError
    from deepforge_panel.project import Project
    from deepforge_panel.webgme import WebGMEProject

__all__ = ["Library", "available_libraries", "library", "loaded_libraries", "register_library", "unregister_library"]

logger = logging.getLogger(__name__)


class Library(ABC):
    """One domain library. Heavy imports (TensorFlow) happen only inside jobs and workers."""

    name: ClassVar[str]
    root: ClassVar[str]
    """The design root of the project document holding this library's resources (versioned, undoable, restored)."""
    tab: ClassVar[str] = ""
    """Title of the workbench tab showing :meth:`editor`; empty when the library offers no editor."""

    @abstractmethod
    def catalog(self) -> dict[str, Any]:
        """The metamodel: the concepts a resource is built from (Keras: layer types and their arguments)."""

    @abstractmethod
    def resources(self, project: Project) -> Any:
        """A typed view of this library's resources in ``project``."""

    @abstractmethod
    def generate(self, project: Project, resource_id: str) -> str:
        """Self-contained Python source defining ``build()`` that returns the resource's object."""

    def runtime_requirements(self) -> tuple[str, ...]:
        """Pip requirements a job needs to build this library's resources, added to the environment of an operation
        that declares one and references a resource of this library; none by default."""
        return ()

    def init_code(self) -> str:
        """Python run in a job before the operation (e.g. custom serialization); empty by default."""
        return ""

    async def check(self, project: Project, resource_id: str) -> list[ProjectError]:
        """Problems in a resource that only building it shows (Keras: layers whose shapes do not fit),
        each with its :class:`~deepforge_panel.errors.Place`; asked before a run from the page. None by default."""
        return []

    def editor(self, project: Project, session: Any) -> Any:
        """The Panel component that edits this library's resources, shown in the workbench tab :attr:`tab`."""
        raise NotImplementedError(f"library {self.name!r} offers no editor")

    def download_converter(self) -> Converter | None:
        """How artifacts of this library's types download as files people can open (Keras: models as ``.keras``).

        See :mod:`deepforge_panel.downloads`; None (the default) when the library adds no download format.
        """
        return None

    def import_deepforge(self, project: Project, source: WebGMEProject, node: str, notes: list[str]) -> str | None:
        """A resource made from node ``node`` of a DeepForge export (Keras: an architecture); its id, or None when
        the node is not of this library. What is kept only approximately goes to ``notes``; what cannot be
        imported at all raises :class:`~deepforge_panel.errors.ProjectError` naming the element."""
        return None

    def add_commands(self, subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
        """Add this library's ``deepforge-panel`` subcommands (each ``set_defaults(func=...)``); none by default.

        ``common`` carries the options every command takes (``--home``): pass it as ``parents=[common]``.
        """
        return None


_registry: Registry[Library] = Registry("library", Library, group="deepforge_panel.libraries")
_instances: dict[str, Library] = {}


def register_library(name: str, cls_or_path: type[Library] | str, clobber: bool = False) -> None:
    """Make a library available by name; ``cls_or_path`` may be ``"module:Class"`` (imported lazily)."""
    _registry.register(name, cls_or_path, clobber=clobber)
    _instances.pop(name, None)


def unregister_library(name: str) -> None:
    """Forget the library ``name`` (e.g. a throwaway one registered by a test)."""
    _registry.unregister(name)
    _instances.pop(name, None)


def library(name: str) -> Library:
    """The library registered as ``name`` (one instance per process); ValueError lists the known names."""
    instance = _instances.get(name)
    if instance is None or not isinstance(instance, _registry.get(name)):
        instance = _instances[name] = _registry.get(name)()
    return instance


def available_libraries() -> list[str]:
    """Names of every registered library, entry points included, loaded or not."""
    return _registry.names()


def loaded_libraries() -> list[Library]:
    """Every registered library that loads, by name; one that fails is logged and left out, sparing the others.

    For what the core builds from all libraries at once (document roots, workbench tabs, CLI commands):
    a broken plugin must not take the workbench down; asking for it by name still raises its error.
    """
    found = []
    for name in available_libraries():
        try:
            found.append(library(name))
        except (ImportError, TypeError) as exc:
            logger.error("library %r is left out: %s", name, exc)
    return found


register_library("keras", "deepforge_panel.libraries.keras.library:KerasLibrary")
