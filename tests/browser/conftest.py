"""Browser tests: the real server on loopback, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Server, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/|^(data|blob|about):")

pytestmark = pytest.mark.browser

__all__ = ["Server", "free_port"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("browser") / "home")
    yield running
    running.stop()


@pytest.fixture
def project(server: Server, request: pytest.FixtureRequest) -> str:
    """A fresh copy of the digits example for one test, forked at its latest commit."""
    from deepforge_panel.crdt import Home

    home = Home(server.home)
    source = home.open("digits")
    name = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:60]
    try:
        home.fork(source, source.head(), name).close()
    finally:
        source.close()
    return name


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API holds an event loop while it runs,
    so it must be stopped before tests that call ``asyncio.run``."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


UPSTREAM_RACES = {"Cannot read properties of null (reading 'verticalFillMode')"}
"""Uncaught errors of a library's own race, not of ours: Tabulator 6 throws this when new data reaches a
table in the instant before its first render finishes (tabulator-tables/tabulator#4800); the next update
draws the table. Seen when a tab holding a live table (Executions) comes to the front during a run."""


class Tab:
    """One browser tab with a record of requests that left loopback, of page errors and of console errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.external: list[str] = []
        self.errors: list[str] = []
        self.expected: list[str] = []
        """Parts of URLs whose console errors a test causes on purpose (a control image that must fail to load)."""
        page.on("request", lambda r: None if LOCAL.match(r.url) else self.external.append(r.url))
        page.on("pageerror", lambda e: None if str(e) in UPSTREAM_RACES else self.errors.append(str(e)))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        url = message.location.get("url") or ""
        if message.type == "error" and not any(part in url for part in self.expected):
            self.errors.append(f"console: {message.text} ({url or 'no url'})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """A failed browser test's report tells what each of its tabs showed (and where their screenshots are)."""
    report = yield
    make = getattr(item, "funcargs", {}).get("new_tab")
    if report.when == "call" and report.failed and make is not None and make.tabs:
        folder = Path(tempfile.mkdtemp(prefix="failed-browser-test-"))
        shown = [f"tab {index}: {describe(tab, folder / f'tab-{index}.png')}" for index, tab in enumerate(make.tabs)]
        report.sections.append(("what the browser showed", "\n".join(shown)))
        server = item.funcargs.get("server")
        if isinstance(server, Server) and server.log.exists():
            report.sections.append(
                ("the server's log, last 60 lines", "\n".join(server.log.read_text().splitlines()[-60:]))
            )
    return report


def describe(tab: Tab, path: Path) -> str:
    """What a failed test's tab showed: a screenshot at ``path``, the tab in front, each shown graph's nodes
    (label and CSS visibility), what each shown list has selected, alerts."""
    page = tab.page
    try:
        page.screenshot(path=path, full_page=True)
        shown = page.evaluate(
            """() => {
              const all = (selector, root = document) => [  // Bokeh renders into shadow roots
                ...root.querySelectorAll(selector),
                ...[...root.querySelectorAll('*')].filter((el) => el.shadowRoot).flatMap((el) => all(selector, el.shadowRoot)),
              ];
              const visible = (el) => el.getClientRects().length > 0;
              const tab = all('.bk-tab.bk-active').map((el) => el.innerText);
              const label = (el) => (el.querySelector('.rf-node-label') || el).innerText.trim().split('\\n')[0];
              const graphs = all('.react-flow').filter(visible).map((flow) =>
                [...flow.querySelectorAll('.react-flow__node')].map((el) =>
                  `${label(el)} (${visible(el) ? getComputedStyle(el).visibility : 'no box'})`));
              const picked = all('select').filter(visible)
                .map((el) => [...el.selectedOptions].map((o) => o.text.slice(0, 40)).join('|'));
              const alerts = all('.alert').filter(visible).map((el) => el.innerText);
              return {tab, graphs, picked, alerts};
            }"""
        )
    except Exception as exc:  # noqa: BLE001 - a diagnostic must not hide the failure it describes
        return f"{page.url}: could not describe the page ({exc})"
    return f"{page.url}\n  screenshot: {path}\n  shown: {shown}\n  errors: {tab.errors}"


@pytest.fixture
def new_tab(browser: Any, server: Server) -> Iterator[Any]:
    """New tabs, each in its own browser context, signed in to ``server`` (``make.tabs`` lists them)."""
    contexts = []
    tabs: list[Tab] = []

    def make() -> Tab:
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        server.sign_in(context)
        contexts.append(context)
        tab = Tab(context.new_page())
        tabs.append(tab)
        return tab

    make.tabs = tabs  # type: ignore[attr-defined]
    yield make
    for context in contexts:
        context.close()
    for tab in tabs:
        assert tab.external == [], f"requests left loopback: {tab.external}"
        assert tab.errors == [], f"JavaScript or console errors: {tab.errors}"
