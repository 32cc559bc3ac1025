"""Domain libraries: a document root, catalog, editor, code generator, init code and CLI commands each, by name."""

from deepforge_panel.libraries.base import (
    Library,
    available_libraries,
    library,
    loaded_libraries,
    register_library,
    unregister_library,
)

__all__ = [
    "Library",
    "available_libraries",
    "library",
    "loaded_libraries",
    "register_library",
    "unregister_library",
]
