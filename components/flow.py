"""React Flow for our graph editors, with one upstream fix: updated nodes keep their measured size.

panel-reactflow 0.5.1 merges the nodes it receives from Python into React Flow's with two
flaws, both fixed in a copy of the installed bundle that this ``ReactFlow`` serves:

- The merged node lacks the ``measured`` field React Flow stored on it, so React Flow forgets
  its handle positions and unmounts every edge until it has measured again: the whole graph
  blinks for a frame or two after each edit, local or remote (xyflow issues #5970, #6022).
  The fix carries ``measured`` over.
- The merged node keeps the browser's ``selected`` flag, so a node that Python deselects
  stays selected and selections pile up (add three nodes, three are selected). The fix takes
  Python's flag when Python sends one; our editors always do, from the session's selection.

Where the bundle does not contain the expected code (another panel-reactflow version) or the
copy cannot be written, this is the plain upstream class, flaws included. The class keeps
the upstream name: the bundle exports its component under it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import panel_reactflow
from panel_reactflow import ReactFlow as UpstreamReactFlow

log = logging.getLogger(__name__)

UPSTREAM = Path(panel_reactflow.__file__).parent / "dist" / "panel-reactflow.bundle.js"
PATCHED = Path(__file__).parent / "_reactflow" / "panel-reactflow.bundle.js"
# The merge of Python's nodes into React Flow's: `{...node, selected: prev.selected, dragging: prev.dragging}`.
MERGE = re.compile(r"\{\.\.\.([\w$]+),selected:([\w$]+)\.selected,dragging:\2\.dragging\}")


def patch(bundle: str) -> str | None:
    """The bundle with the node merge fixed, or None if the merge is not found exactly once."""
    patched, count = MERGE.subn(
        r"{...\1,selected:\1.selected??\2.selected,dragging:\2.dragging,measured:\2.measured}", bundle
    )
    return patched if count == 1 else None


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def _patched_bundle() -> Path | None:
    patched = patch(UPSTREAM.read_text(encoding="utf-8"))
    if patched is None:
        log.warning("panel-reactflow %s: node merge not found, graphs will blink on updates", panel_reactflow.__version__)
        return None
    try:
        _write_if_changed(PATCHED, patched)
        _write_if_changed(PATCHED.with_suffix(".css"), UPSTREAM.with_suffix(".css").read_text(encoding="utf-8"))
    except OSError as error:
        log.warning("cannot write the patched React Flow bundle (%s), graphs will blink on updates", error)
        return None
    return PATCHED


_BUNDLE = _patched_bundle()


class ReactFlow(UpstreamReactFlow):
    """panel-reactflow's ``ReactFlow`` whose edges stay drawn while nodes update (see the module docstring)."""

    if _BUNDLE is not None:
        _bundle = _BUNDLE
