"""DeepForge-Panel: a browser workbench for deep-learning pipelines, Keras architectures and reproducible runs.

Everything installs under this one namespace: the repository's top-level folders map onto it
(``crdt/`` is :mod:`deepforge_panel.crdt`, ``adapters/`` is :mod:`deepforge_panel.adapters`, and
so on), so nothing of ours takes a generic top-level name in a user's environment. Importing this
package is cheap: the subpackages load only when asked for.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
