"""The React Flow bundle patch: found once in the installed panel-reactflow, and served."""

from __future__ import annotations

import asyncio
import re

from deepforge_panel.components import flow
from deepforge_panel.components.flow import FollowedSelection, ReactFlow


def test_the_installed_bundle_is_patched_once() -> None:
    upstream = flow.UPSTREAM.read_text(encoding="utf-8")
    patched = flow.patch(upstream)
    assert patched is not None, "panel-reactflow changed its node merge: check whether the blink fix is still needed"
    merged = re.findall(r"selected:([\w$]+)\.selected,dragging:\1\.dragging,measured:\1\.measured\}", patched)
    assert len(merged) == 1, "the browser's measurement is kept, in the one merge"
    assert patched.count("fitView:__dfFitView,getNode:__dfGetNode}") == 1, "the graph holds fitView and getNode"
    assert patched.count('.type==="fit_view"') == 1, "the message handler understands fit_view"
    assert len(patched) == len(upstream) + len(f",measured:{merged[0]}.measured") + len(
        ",fitView:__dfFitView,getNode:__dfGetNode"
    ) + len(flow.FIT_VIEW.replace("MSG", flow.MESSAGES.search(upstream).group(2))), "nothing else changed"


def test_fit_view_is_sent_to_the_browser() -> None:
    graph = ReactFlow(nodes=[], edges=[])
    sent: list[dict[str, object]] = []
    graph._send_msg = sent.append  # type: ignore[method-assign]
    graph.fit_view(["n1"])
    assert sent == [{"type": "fit_view", "wait_for": ["n1"], "options": {"padding": 0.15, "maxZoom": 1.0}}]


def test_the_editors_serve_the_patched_bundle() -> None:
    assert flow.ReactFlow._bundle_path == flow.PATCHED
    assert flow.PATCHED.read_text(encoding="utf-8") == flow.patch(flow.UPSTREAM.read_text(encoding="utf-8"))
    assert flow.ReactFlow._bundle_css == [flow.PATCHED.with_suffix(".css")]


def test_a_bundle_without_the_merge_is_left_alone() -> None:
    assert flow.patch("export default {}") is None


def test_selection_is_left_to_the_browser() -> None:
    flow = ReactFlow(nodes=[{"id": "a", "position": {"x": 0, "y": 0}, "data": {}, "selected": True}], edges=[])
    assert flow.selection == {"nodes": [], "edges": []}
    flow._process_msg({"type": "selection_changed", "nodes": ["a"], "edges": []})
    assert flow.selection == {"nodes": ["a"], "edges": []}
    flow.nodes = [{"id": "a", "position": {"x": 0, "y": 0}, "data": {}, "selected": False}]
    assert flow.selection == {"nodes": ["a"], "edges": []}


def _flow(*ids: str) -> ReactFlow:
    return ReactFlow(nodes=[{"id": i, "position": {"x": 0, "y": 0}, "data": {}} for i in ids], edges=[])


def test_followed_selection_takes_the_settled_report_and_keeps_the_panel_on_empty() -> None:
    graph = _flow("a", "b", "c")
    shown: list[str | None] = [None]
    FollowedSelection(graph, lambda: shown[-1], shown.append)

    async def reports() -> None:
        for nodes in (["a"], [], ["b"]):  # passing reports, faster than the settle time
            graph._process_msg({"type": "selection_changed", "nodes": nodes, "edges": []})
            await asyncio.sleep(0.01)
        await asyncio.sleep(flow.SETTLE_S * 2)
        graph._process_msg({"type": "selection_changed", "nodes": [], "edges": []})
        await asyncio.sleep(flow.SETTLE_S * 2)

    asyncio.run(reports())
    assert shown == [None, "b"]


def test_selecting_from_python_unselects_what_the_browser_may_have_selected() -> None:
    graph = _flow("a", "b", "c")
    shown: list[str | None] = [None]
    selection = FollowedSelection(graph, lambda: shown[-1], shown.append)
    graph._process_msg({"type": "selection_changed", "nodes": ["a", "b"], "edges": []})
    assert {n["id"]: n.get("selected") for n in graph.nodes} == {"a": True, "b": True, "c": False}
    selection.select("c")
    # patch_node_props sends the patch to the browser and applies it to the nodes here
    assert {n["id"]: n.get("selected") for n in graph.nodes} == {"a": False, "b": False, "c": False}
