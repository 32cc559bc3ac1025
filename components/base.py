"""What every workbench component shares: it is a projection of a project document.

A component observes the roots it shows and re-renders from the document; it never keeps
a second copy of the state (DESIGN.md). Bursts of remote edits coalesce into one refresh
per event-loop tick, and into at most one per :attr:`ProjectComponent.min_interval` seconds
for components whose roots change many times a second (a job streaming its feedback).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import panel as pn
import param

from deepforge_panel.components.markup import html_text
from deepforge_panel.project import Project


class ProjectComponent(pn.viewable.Viewer):
    """A Panel component bound to one project; subclasses implement :meth:`refresh`."""

    project = param.ClassSelector(class_=Project, doc="The project (a per-session handle) this component shows.")
    roots: Sequence[str] = ()
    """Document roots whose changes trigger :meth:`refresh`."""
    min_interval: float = 0.0
    """Seconds between two refreshes caused by document changes; later changes wait (never dropped)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._scheduled: asyncio.AbstractEventLoop | None = None
        self._last_refresh = 0.0
        self._unsubscribe: Callable[[], None] | None = None
        self._unshown: Callable[[], None] | None = None
        """Stops re-sending a table when its tab is shown (:func:`resend_when_shown`), if one does."""
        if self.project is not None and self.roots:
            self._unsubscribe = self.project.on_change(self.roots, self._changed)
            if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
                pn.state.on_session_destroyed(lambda _ctx: self.dispose())

    def _changed(self, _root: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.refresh()
            return
        if self._scheduled is not loop:
            self._scheduled = loop
            wait = self._last_refresh + self.min_interval - time.monotonic()
            if wait > 0:
                loop.call_later(wait, self._refresh_once)
            else:
                loop.call_soon(self._refresh_once)

    def _refresh_once(self) -> None:
        self._scheduled = None
        self._last_refresh = time.monotonic()
        self.refresh()

    def refresh(self) -> None:
        """Re-render from the document."""

    def dispose(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unshown is not None:
            self._unshown()
            self._unshown = None


class Clock:
    """Calls ``tick`` once a second in this browser session while it is on; outside a live session (a test, an
    export) it never runs. Components whose durations count up while something runs keep one."""

    def __init__(self, tick: Callable[[], None], period_ms: int = 1000) -> None:
        self._tick = tick
        self._period_ms = period_ms
        self._callback: Any = None

    def run(self, on: bool) -> None:
        """Start (``on``) or stop the clock; either is a no-op when it already is so."""
        if (
            on
            and self._callback is None
            and pn.state.curdoc is not None
            and pn.state.curdoc.session_context is not None
        ):
            self._callback = pn.state.add_periodic_callback(self._tick, period=self._period_ms)
        elif not on and self._callback is not None:
            self._callback.stop()
            self._callback = None


def resend_when_shown(session: Any, tab: str, table: pn.widgets.Tabulator) -> Callable[[], None]:
    """Send ``table``'s rows to the browser again when its ``tab`` comes to the front; returns the unwatch.

    The browser's Tabulator can lose rows set while its tab is hidden (display: none; tabulator#4214):
    CI's soak test saw the History table one commit short after runs committed behind another tab.
    Re-sending on show costs one message and makes what is shown what the document holds.
    """

    def shown(event: param.parameterized.Event) -> None:
        if event.new == tab:
            table.param.trigger("value")

    watcher = session.param.watch(shown, "tab")
    return lambda: session.param.unwatch(watcher)


def notify(message: str, level: str = "error", duration: int = 6000) -> None:
    """A toast in the browser (which renders HTML, so ``message`` is escaped); in tests without a browser, a no-op."""
    notifications = pn.state.notifications
    if notifications is not None:
        getattr(notifications, level)(html_text(message), duration=duration)
