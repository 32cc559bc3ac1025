"""Every resource a project page requests is served, and no request names a file-system path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import panel_reactflow
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def test_a_project_page_requests_only_what_is_served(server: Any, project: str, new_tab: Any) -> None:
    page = new_tab().page
    failed: list[str] = []
    requested: list[str] = []
    page.on(
        "response",
        lambda response: failed.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server.url}?project={project}")
    expect(page.locator(".react-flow__node")).to_have_count(5, timeout=TIMEOUT)
    page.locator(".bk-tab", has_text="Architectures").click()
    expect(page.locator(".react-flow__node:visible").first).to_be_visible(timeout=TIMEOUT)

    install = str(Path(panel_reactflow.__file__).parent.parent)
    assert failed == []
    assert [url for url in requested if install in url or "site-packages" in url or "/.." in url] == []
    served = [url for url in requested if url.split("?")[0].endswith("/panel-reactflow.bundle.css")]
    assert served and all("/components/deepforge_panel.components.flow/" in url for url in served), served
    style = page.locator(".react-flow__node-default").first.evaluate(
        "node => { const s = getComputedStyle(node); return [s.textAlign, s.paddingTop]; }"
    )
    assert style == ["left", "0px"], "React Flow's own rules (panel-reactflow's reactflow.css) apply"
