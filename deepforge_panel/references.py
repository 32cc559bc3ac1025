"""References from operations to library resources: ``"<library>:<resource id>"``, resolved to code for jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deepforge_panel.errors import NotFound, Place, ProjectError

if TYPE_CHECKING:
    from deepforge_panel.project import Project


class UnresolvedReference(ProjectError, ValueError):
    """A reference that names no library or no resource."""


class UnbuildableReference(ProjectError, ValueError):
    """A reference to an existing resource that its library cannot generate code for (e.g. a layer left unconnected)."""


@dataclass(frozen=True)
class ResolvedReference:
    """What a job needs to rebuild the referenced object: the library and its generated code."""

    library: str
    resource: str
    name: str
    code: str


def make_reference(library_name: str, resource_id: str) -> str:
    return f"{library_name}:{resource_id}"


def parse_reference(value: str) -> tuple[str, str]:
    library_name, sep, resource_id = value.partition(":")
    if not sep or not library_name or not resource_id:
        raise UnresolvedReference(f"reference {value!r} must look like 'library:resource-id', e.g. 'keras:ar123'")
    return library_name, resource_id


def check_reference(project: Project, value: str) -> str:
    """The resource's name if ``value`` points at an existing resource; else a clear error."""
    from deepforge_panel.libraries import library

    library_name, resource_id = parse_reference(value)
    try:
        resources = library(library_name).resources(project)
        return resources.get(resource_id).name
    except (NotFound, ValueError) as exc:  # no such resource; no such library (the registry's error)
        raise UnresolvedReference(str(exc)) from None


def resolve(project: Project, value: str) -> ResolvedReference:
    """Generate the code that builds the referenced resource, as it is now."""
    from deepforge_panel.libraries import library

    library_name, resource_id = parse_reference(value)
    lib = library(library_name)
    name = check_reference(project, value)
    try:
        code = lib.generate(project, resource_id)
    except ProjectError as exc:
        place = exc.place or Place(lib.root, resource_id, exc.element, name)
        raise UnbuildableReference(f"{library_name} resource {name!r} cannot be built: {exc}", place=place) from exc
    return ResolvedReference(library_name, resource_id, name, code)
