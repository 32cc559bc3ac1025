"""React Flow for our graph editors, with two upstream fixes: edges stay drawn while nodes update,
and the browser reports no stale selections (see :class:`ReactFlow`); and one addition: Python
can ask the browser to fit the graph into view (:meth:`ReactFlow.fit_view`).

panel-reactflow 0.5.1 rebuilds every node it receives from Python without the ``measured``
field React Flow stored on it. React Flow then forgets the node's handle positions and
unmounts every edge until it has measured the node again, so the whole graph blinks for a
frame or two after each edit, local or remote (xyflow issues #5970 and #6022). This
``ReactFlow`` serves a copy of the installed bundle with ``measured`` carried over. Where the
bundle does not contain the expected code (another panel-reactflow version) or the copy
cannot be written, it serves the upstream bundle, blink included. The class keeps the
upstream name: the bundle exports its component under it.

The merge keeps the browser's ``selected`` flag on nodes it already has, and React Flow
reports passing selections while it takes in new nodes: :class:`FollowedSelection` turns
that into the one node an editor's side panel shows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import panel_reactflow
from panel_reactflow import ReactFlow as UpstreamReactFlow

log = logging.getLogger(__name__)

UPSTREAM = Path(panel_reactflow.__file__).parent / "dist" / "panel-reactflow.bundle.js"
PATCHED = Path(__file__).parent / "_reactflow" / "panel-reactflow.bundle.js"
# The merge of Python's nodes into React Flow's: `{...node, selected: prev.selected, dragging: prev.dragging}`.
MERGE = re.compile(r"\{\.\.\.([\w$]+),selected:([\w$]+)\.selected,dragging:\2\.dragging\}")


# The graph component takes two functions of React Flow's instance; fitView joins them.
INSTANCE = re.compile(r"\{setViewport:([\w$]+),screenToFlowPosition:([\w$]+)\}=([\w$]+)\(\)")
# The start of the handler of messages from Python (``patch_node_data`` and the like).
MESSAGES = re.compile(r"let ([\w$]+)=([\w$]+)=>\{if\(!\(!\2\|\|typeof \2!=\"object\"\)\)\{")
FIT_VIEW = (
    'if(MSG.type==="fit_view"){let tries=0;const wanted=MSG.wait_for||[];'
    "const find=(root,sel)=>{const hit=[...root.querySelectorAll(sel)].find(n=>n.getClientRects().length);if(hit)return hit;"
    "for(const el of root.querySelectorAll('*'))if(el.shadowRoot){const deep=find(el.shadowRoot,sel);if(deep)return deep}"
    "return null};"
    'const inView=()=>{const el=find(document,`.react-flow__node[data-id="${CSS.escape(wanted[0])}"]`);'
    "const pane=el&&el.closest('.react-flow');if(!pane)return false;const p=pane.getBoundingClientRect();"
    "return[...pane.querySelectorAll('.react-flow__node')].every(n=>{const r=n.getBoundingClientRect();"
    "return r.left>=p.left+48&&r.right<=p.right-8&&r.top>=p.top+8&&r.bottom<=p.bottom-8})};"
    "const fit=()=>{if(wanted.every(id=>__dfGetNode(id)?.measured?.width)||++tries>60){"
    "if(!wanted.length||!inView())__dfFitView(MSG.options||{})}else setTimeout(fit,50)};setTimeout(fit,50);return}"
)
"""Fit once the nodes named in ``wait_for`` are drawn and measured (for at most 3 s): Python's new
nodes reach React Flow a frame or more after the message. A fit for new nodes happens only when
some node is out of view (or under the zoom controls, on the left), so a graph the reader
arranged stays put. Not animated: an animated fit was lost once the reader had zoomed with
the controls."""


def patch(bundle: str) -> str | None:
    """The bundle with ``measured`` kept in the node merge and a ``fit_view`` message understood,
    or None if any of the code patched is not found exactly once."""
    rules = [
        (MERGE, r"{...\1,selected:\2.selected,dragging:\2.dragging,measured:\2.measured}"),
        (INSTANCE, r"{setViewport:\1,screenToFlowPosition:\2,fitView:__dfFitView,getNode:__dfGetNode}=\3()"),
        (MESSAGES, r'let \1=\2=>{if(!(!\2||typeof \2!="object")){' + FIT_VIEW.replace("MSG", r"\2")),
    ]
    for rule, replacement in rules:
        bundle, count = rule.subn(replacement, bundle)
        if count != 1:
            return None
    return bundle


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


_STYLES = "\n".join(Path(sheet).read_text(encoding="utf-8") for sheet in UpstreamReactFlow._stylesheets)
"""Upstream's stylesheets (its bundle's and React Flow's), served as one file beside the patched bundle.

Upstream lists them as absolute paths, which Panel's page template links as they are: every page
requested the install path, a 404 that revealed it, and React Flow's own rules never arrived. Panel
serves a bundle's CSS through its component route (``_bundle_css``), so they go there; with the
upstream bundle they go inline in each graph instead (a string that is not a path is CSS)."""


def _patched_bundle() -> Path | None:
    patched = patch(UPSTREAM.read_text(encoding="utf-8"))
    if patched is None:
        log.warning(
            "panel-reactflow %s: code to patch not found, graphs will blink on updates and not fit on request",
            panel_reactflow.__version__,
        )
        return None
    try:
        _write_if_changed(PATCHED, patched)
        _write_if_changed(PATCHED.with_suffix(".css"), _STYLES)
    except OSError as error:
        log.warning("cannot write the patched React Flow bundle (%s), graphs will blink on updates", error)
        return None
    return PATCHED


_BUNDLE = _patched_bundle()


class ReactFlow(UpstreamReactFlow):
    """panel-reactflow's ``ReactFlow`` whose edges stay drawn while nodes update (see the module
    docstring), and whose ``selection`` is what the browser last reported.

    Upstream also derives ``selection`` from the nodes' ``selected`` flags on every update
    from Python. Each such change gives the browser a new selection callback, which React Flow
    calls at once with the selection it has *before* taking in the new nodes; so the browser
    reports a stale selection (after adding a node: the previous one) and the side panel
    swaps back and forth.
    """

    if _BUNDLE is not None:
        _bundle = _BUNDLE
        _stylesheets: ClassVar[list[str]] = []
    else:
        _stylesheets = [_STYLES]

    def _update_selection_from_graph(self, *_events: Any) -> None:
        """Leave ``selection`` to the browser's reports."""

    def fit_view(self, wait_for: Sequence[str] = (), padding: float = 0.15, max_zoom: float = 1.0) -> None:
        """Fit every node into the browser's view (zooming in no further than ``max_zoom``), once the
        nodes ``wait_for`` (just added) are drawn. Without the patched bundle, nothing happens."""
        if _BUNDLE is not None:
            options = {"padding": padding, "maxZoom": max_zoom}
            self._send_msg({"type": "fit_view", "wait_for": list(wait_for), "options": options})


def deleted_ids(event: dict[str, Any], kind: str) -> list[str]:
    """The ids a ``node_deleted`` or ``edge_deleted`` event names (``kind`` "node" or "edge"):
    React Flow sends one id, or several when a selection is deleted at once."""
    single = event.get(f"{kind}_id")
    return list(event.get(f"{kind}_ids") or []) + ([single] if single else [])


SETTLE_S = 0.2
"""How long the browser's selection must hold before the side panel follows it."""


class FollowedSelection:
    """The node an editor's side panel shows, following the browser's selection once it settles.

    While React Flow takes in new nodes it may report passing selections (the previous node,
    or none); following each at once would swap the side panel under the user's fingers. So
    the latest report wins after :data:`SETTLE_S`, and an empty one keeps the panel as it is.
    A node selected from Python (say, one just added) becomes the browser's only selected
    node: the others it may have selected are unselected by patches.
    """

    def __init__(self, flow: ReactFlow, shown: Callable[[], str | None], show: Callable[[str], None]) -> None:
        self.flow = flow
        self._shown, self._show = shown, show
        self._maybe_selected: set[str] = set()
        self._reported: list[str] = []
        self._settle: asyncio.TimerHandle | None = None
        flow.on("selection_changed", self._reported_by_browser)

    def _reported_by_browser(self, event: dict[str, Any]) -> None:
        nodes = list(event.get("nodes") or [])
        self._maybe_selected.update(nodes)
        self._reported = nodes
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._follow()
            return
        if self._settle is not None:
            self._settle.cancel()
        self._settle = loop.call_later(SETTLE_S, self._follow)

    def _follow(self) -> None:
        self._settle = None
        if self._reported and self._shown() not in self._reported:
            self._show(self._reported[-1])

    def select(self, node_id: str) -> None:
        """Make ``node_id`` the browser's only selected node (call before showing it)."""
        present = {node["id"] for node in self.flow.nodes}
        for other in (self._maybe_selected & present) - {node_id}:
            self.flow.patch_node_props(other, {"selected": False})
        self._maybe_selected, self._reported = {node_id}, [node_id]
