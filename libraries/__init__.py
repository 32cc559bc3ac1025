"""Domain libraries: a catalog, an editor, a code generator and init code each, registered by name."""

from deepforge_panel.libraries.base import Library, available_libraries, library, register_library

__all__ = ["Library", "available_libraries", "library", "register_library"]
