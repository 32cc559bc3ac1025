"""The React Flow bundle patch: found once in the installed panel-reactflow, and served."""

from __future__ import annotations

import re

from components import flow


def test_the_installed_bundle_is_patched_once() -> None:
    upstream = flow.UPSTREAM.read_text(encoding="utf-8")
    patched = flow.patch(upstream)
    assert patched is not None, "panel-reactflow changed its node merge: check whether the blink fix is still needed"
    merged = re.findall(
        r"\{\.\.\.([\w$]+),selected:\1\.selected\?\?([\w$]+)\.selected,dragging:\2\.dragging,measured:\2\.measured\}",
        patched,
    )
    assert len(merged) == 1, "Python's selection wins and the browser's measurement is kept, in the one merge"
    python_node, browser_node = merged[0]
    added = f"{python_node}.selected??" + f",measured:{browser_node}.measured"
    assert len(patched) == len(upstream) + len(added)


def test_the_editors_serve_the_patched_bundle() -> None:
    assert flow.ReactFlow._bundle_path == flow.PATCHED
    assert flow.PATCHED.read_text(encoding="utf-8") == flow.patch(flow.UPSTREAM.read_text(encoding="utf-8"))
    assert flow.ReactFlow._bundle_css == [flow.PATCHED.with_suffix(".css")]


def test_a_bundle_without_the_merge_is_left_alone() -> None:
    assert flow.patch("export default {}") is None
