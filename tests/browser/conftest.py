"""Browser tests: the real server on loopback, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import re
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


@pytest.fixture
def new_tab(browser: Any, server: Server) -> Iterator[Any]:
    """New tabs, each in its own browser context, signed in to ``server``."""
    contexts = []
    tabs: list[Tab] = []

    def make() -> Tab:
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        server.sign_in(context)
        contexts.append(context)
        tab = Tab(context.new_page())
        tabs.append(tab)
        return tab

    yield make
    for context in contexts:
        context.close()
    for tab in tabs:
        assert tab.external == [], f"requests left loopback: {tab.external}"
        assert tab.errors == [], f"JavaScript or console errors: {tab.errors}"
