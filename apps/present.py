"""The present page: ``/present?project=<id or name>&execution=<id | pipeline name | latest>``.

One execution for an audience (:class:`~deepforge_panel.components.present_view.PresentView`), light or
dark (``&theme=dark``), with nothing that edits. The server lets a read-only link's token reach this page
for its own project only (:mod:`deepforge_panel.auth`); the page checks again, because the session
websocket's handshake may name any arguments, and closes itself within a second of its link's revocation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import panel as pn

from deepforge_panel.apps.workbench import _template, _theme, serve_styles_locally
from deepforge_panel.auth import COOKIE, HEADER_SCHEME, VIEW_COOKIE
from deepforge_panel.components.present_view import PresentView
from deepforge_panel.errors import USER_ERRORS, ProjectError
from deepforge_panel.executions import LATEST
from deepforge_panel.hub import ProjectHub
from deepforge_panel.project import Project

__all__ = ["CLOSED_REVOKED", "DENIED", "REVOKED", "Access", "present"]

Access = Callable[[str | None, str], bool]
"""``(token, project id or name) -> whether that token may view that project``; None when the server has no token."""

CHECK_MS = 1000
"""How often an open present page checks that its link still works."""

CLOSE_AFTER_MS = 1500
"""How long a revoked page keeps its websocket, so the notice reaches the browser before it closes."""

CLOSED_REVOKED = 4403
"""The websocket close code of a revoked link's session."""

REVOKED = "This read-only link was revoked by the project's owner: the run is no longer shown here."
DENIED = "This link does not open this page: ask the project's owner for a read-only link to it."


def _arg(name: str) -> str:
    values = (pn.state.session_args or {}).get(name) or [b""]
    return values[0].decode()


def _tokens() -> list[str]:
    """Every token this session's request carried: ``?token=``, the cookies, the ``Authorization`` header."""
    cookies = pn.state.cookies or {}
    scheme, _, value = ((pn.state.headers or {}).get("Authorization") or "").partition(" ")
    found = [_arg("token"), cookies.get(COOKIE, ""), cookies.get(VIEW_COOKIE, "")]
    if scheme.lower() == HEADER_SCHEME:
        found.append(value.strip())
    return [token for token in found if token]


def _message_page(message: str, alert: str = "danger") -> pn.template.BootstrapTemplate:
    template = _template("DeepForge-Panel · present")
    template.main.append(pn.pane.Alert(message, alert_type=alert, sizing_mode="stretch_width"))
    return template


def present(hub: ProjectHub, access: Access | None) -> pn.template.BootstrapTemplate:
    """Build the page for one browser session; a refusal or failure is a short notice, never a traceback."""
    serve_styles_locally(pn.state.curdoc)
    pn.config.theme = _theme()
    name, which, branch = _arg("project"), _arg("execution") or LATEST, _arg("branch") or "main"
    if not name:
        return _message_page(
            "The present view needs a project: /present?project=NAME&execution=ID, a pipeline's name or latest."
        )
    token = next((t for t in _tokens() if access(t, name)), None) if access is not None else ""
    if token is None:  # checked before the project is looked up: a refusal names no project
        return _message_page(DENIED)
    try:
        live = hub.project(name, branch)
        project = Project(live.doc, live.store, name=live.name, readonly=True)
        return present_page(project, which, (lambda: access(token, name)) if access is not None else None)
    except USER_ERRORS as exc:
        return _message_page(str(exc))
    except Exception as exc:
        logging.getLogger(__name__).exception("could not build the present page")
        return _message_page(f"The present view could not open: {exc!r}. The server log has the details.")


def present_page(
    project: Project, which: str, still_allowed: Callable[[], bool] | None = None
) -> pn.template.BootstrapTemplate:
    """``project``'s execution ``which``, live; when ``still_allowed`` turns False (the link was revoked), the page
    says so, stops and closes its session."""
    if project.readonly is not True:
        raise ProjectError("the present view reads a read-only handle of the project")
    view = PresentView(project=project, which=which)
    template = _template(f"{project.name} · present")
    body = pn.Column(view, sizing_mode="stretch_width", css_classes=["df-present-page"])
    template.main.append(body)
    doc = pn.state.curdoc
    if still_allowed is None or doc is None or doc.session_context is None:
        return template

    def check() -> None:
        if still_allowed():
            return
        poll.stop()
        view.dispose()
        body.objects = [pn.pane.Alert(REVOKED, alert_type="warning", sizing_mode="stretch_width")]
        doc.add_timeout_callback(lambda: close_session(doc), CLOSE_AFTER_MS)

    poll = pn.state.add_periodic_callback(check, period=CHECK_MS)
    return template


def close_session(doc: Any) -> None:
    """Close the websockets of ``doc``'s session (a revoked link's page): it then gets nothing more, and a
    reconnect is refused by the server's guard. Bokeh has no public call for this; without one, nothing is done."""
    session = getattr(doc.session_context, "_session", None)
    for connection in list(getattr(session, "_subscribed_connections", ())):
        socket = getattr(connection, "_socket", None)
        if socket is not None:
            socket.close(CLOSED_REVOKED, "read-only link revoked")
