"""Issue 15, point 6: an audience follows a run live through a read-only link, and the link opens nothing else.

The owner makes the link in the share dialog; a second browser context, never signed in, opens it: the
present view of the project's latest run, whose loss figure gains points while the job draws. The same
token is refused on the workbench, the API, the sync route, a download and another project's present page;
revoked in the dialog, the open page says so and closes, and the next request is refused.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from deepforge_panel.apps.present import REVOKED
from deepforge_panel.client import Client
from tests.browser.conftest import Tab
from tests.browser.test_workbench import TIMEOUT
from tests.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POINTS = 60
LOSS = f"""
import time
import matplotlib.pyplot as plt
from deepforge import metric, progress

class Loss:
    \"\"\"A loss curve drawn point by point, slowly enough to watch.\"\"\"
    def __init__(self, points: int = {POINTS}, pause: float = 0.25):
        self.points = points
        self.pause = pause

    def execute(self):
        losses = []
        for step in range(self.points):
            losses.append(2.0 / (step + 1) + 0.05)
            plt.cla()
            plt.plot(losses, label="loss")
            plt.title("Training loss")
            plt.xlabel("epoch")
            plt.draw()
            metric("loss", losses[-1], step)
            progress(step + 1, self.points, "epoch")
            time.sleep(self.pause)
        curve = losses
        return curve
"""

WATCH = """() => {
  const watch = window.__watch = {counts: []}
  const poll = () => {
    for (const doc of (window.Bokeh ? Bokeh.documents : [])) for (const m of doc.all_models) {
      if (!(m.title && m.title.text === 'Training loss' && m.renderers)) continue
      const line = m.renderers.find(r => r.glyph && r.glyph.type === 'Line')
      if (!line) continue
      const n = line.data_source.data.y.length
      if (watch.counts[watch.counts.length - 1] !== n) watch.counts.push(n)
    }
    requestAnimationFrame(poll)
  }
  requestAnimationFrame(poll)
}"""

EDITING = """() => {
  const all = (selector, root = document) => [
    ...root.querySelectorAll(selector),
    ...[...root.querySelectorAll('*')].filter((el) => el.shadowRoot).flatMap((el) => all(selector, el.shadowRoot)),
  ];
  const visible = (el) => el.getClientRects().length > 0;
  return all('input, textarea, select, button, [contenteditable=""], [contenteditable="true"], .bk-btn')
    .filter(visible).map((el) => el.outerHTML.slice(0, 120));
}"""
"""Every control that could take input, in Bokeh's shadow roots too."""


def _make_link(owner: Any, label: str, picture: Path) -> str:
    owner.get_by_role("button", name="Share").click()
    field = owner.locator(".df-view-links-section input[type=text]").first
    expect(field).to_be_visible(timeout=TIMEOUT)
    field.fill(label)
    owner.get_by_role("button", name="Create read-only link").click()
    link = owner.locator("input.df-view-link")
    expect(link).to_have_count(1, timeout=TIMEOUT)
    owner.screenshot(path=picture)
    return str(link.input_value())


def _audience(browser: Any) -> Tab:
    """A browser context that never signed in: it has only what the link gives."""
    return Tab(browser.new_context(viewport={"width": 1400, "height": 1000}).new_page())


def test_a_read_only_link_follows_a_run_live_and_opens_nothing_else(
    server: Server, new_tab: Any, browser: Any, screenshots: Path
) -> None:
    client = Client(server.url, server.token)
    project = client.create_project("present-live")
    client.create_project("present-other")
    client.create_operation("present-live", LOSS)
    client.create_pipeline("present-live", "present")
    client.add_node("present-live", "present", "Loss", name="loss")

    owner = new_tab().page
    owner.goto(f"{server.url}?project=present-live")
    expect(owner.locator(".react-flow__node")).to_have_count(1, timeout=TIMEOUT)  # the page is live
    link = _make_link(owner, "group meeting", screenshots / "read-only-links.png")
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert link.startswith(f"{server.url}present?project={project['id']}&token=")
    owner.locator("#pn-closeModal").click()

    audience = _audience(browser)
    page = audience.page
    page.goto(link)
    expect(page.get_by_text("No run yet")).to_be_visible(timeout=TIMEOUT)
    page.evaluate(WATCH)
    started = time.monotonic()
    run = client.run("present-live", "present", cache=False, author="speaker")
    expect(page.locator(f".df-present-head[data-execution='{run['id']}'][data-status='running']")).to_be_visible(
        timeout=TIMEOUT
    )
    page.wait_for_function("() => window.__watch.counts.filter((n) => n > 0).length >= 5", timeout=60_000)
    grown = page.evaluate("() => window.__watch.counts")
    live_s = time.monotonic() - started
    assert grown == sorted(grown) and grown[-1] < POINTS, f"the curve grew while the job ran: {grown}"
    assert client.execution("present-live", run["id"])["status"] == "running"
    expect(page.locator(".df-present-metric[data-metric='loss']")).to_be_visible()
    expect(page.locator(".df-present-job[data-name='loss'][data-status='running']")).to_be_visible()
    assert page.evaluate(EDITING) == [], "the present view shows no control that edits"
    page.screenshot(path="/tmp/present-light.png")
    dark = _audience(browser)
    dark.page.goto(link + "&theme=dark")
    dark.page.evaluate(WATCH)
    dark.page.wait_for_function("() => window.__watch.counts.length >= 2", timeout=TIMEOUT)  # drawn, and growing
    dark.page.screenshot(path="/tmp/present-dark.png")
    print(f"the audience saw the loss curve grow {grown} within {live_s:.1f} s of the run's start")

    # The same token, from the audience's browser (its cookie) and by query: refused everywhere else.
    other_present = f"present?project=present-other&token={token}"
    for path in (
        "?project=present-live",
        "",
        "api/v1/projects",
        "api/v1/projects/present-live/executions",
        f"sync/{project['id']}",
        "api/v1/projects/present-live/artifacts/loss.curve/content",
        other_present,
    ):
        for headers in ({}, {"Authorization": f"token {token}"}):
            response = page.context.request.get(server.url + path, headers=headers)
            assert response.status == 403, f"/{path} answered {response.status} to the read-only link"
            assert "read-only link" in response.text(), response.text()[:200]

    # The Present links of the owner's execution monitor open the same view, signed in as the owner.
    owner.locator(".bk-tab", has_text="Executions").click()
    expect(owner.locator("a.df-present-this")).to_be_visible(timeout=TIMEOUT)
    owner.screenshot(path=screenshots / "present-links.png")
    with owner.context.expect_page(timeout=TIMEOUT) as opened:
        owner.locator("a.df-present-latest").click()
    presented = opened.value
    expect(presented.locator(f".df-present-head[data-execution='{run['id']}']")).to_be_visible(timeout=TIMEOUT)
    assert "execution=present" in presented.url
    presented.close()

    # Revoked in the dialog: the open page says so and stops; a new request is refused, saying why.
    audience.expected.append("/present/ws")  # the closed session's reconnect attempts are refused
    owner.get_by_role("button", name="Share").click()
    owner.get_by_role("button", name="Revoke").click()
    expect(owner.locator("input.df-view-link")).to_have_count(0, timeout=TIMEOUT)
    expect(page.get_by_text(REVOKED)).to_be_visible(timeout=10_000)
    refused = page.context.request.get(link)
    assert refused.status == 403 and "revoked" in refused.text()
    client.wait("present-live", run["id"], timeout=120)
    for tab in (audience, dark):
        assert tab.external == [], f"requests left loopback: {tab.external}"
        assert [e for e in tab.errors if "/present/ws" not in e and "WebSocket" not in e] == [], tab.errors
        tab.page.context.close()
    print("after the revocation, the audience's console said:", audience.errors)
