"""Read-only links on a real server on loopback: a view token opens its project's present page (and that
page's websocket and static files) and every other route, those added later included, refuses it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bokeh.protocol import Protocol
from bokeh.util.token import generate_jwt_token, generate_session_id
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from deepforge_panel.apps.present import CLOSED_REVOKED, DENIED
from deepforge_panel.auth import VIEW_COOKIE
from deepforge_panel.crdt import Home
from deepforge_panel.view_tokens import ViewTokens
from tests.deepforge_panel.test_auth import _serve, _status, example_path

OPEN_TO_VIEWERS = (r"/static/", r"/favicon\.ico", r"/present/ws")
"""The route patterns a read-only link may reach besides its project's present page."""


async def _refused_upgrade(url: str, **headers: str) -> int:
    try:
        connection = await websocket_connect(HTTPRequest(url, headers=headers))
    except HTTPClientError as error:
        return error.code
    connection.close()
    return 101


async def _read(connection: WebSocketClientConnection, frames: int) -> list[Any]:
    return [await asyncio.wait_for(connection.read_message(), 30) for _ in range(frames)]


async def _open_session(ws_url: str, arguments: dict[str, str]) -> tuple[WebSocketClientConnection, str]:
    """A Bokeh session of ``ws_url`` for ``arguments`` (query arguments of the websocket request, as any
    client may send them), and the document it built: the handshake and one PULL-DOC, as Bokeh's client does."""
    query = "&".join(f"{key}={quote(value)}" for key, value in arguments.items())
    token = generate_jwt_token(generate_session_id())
    connection = await websocket_connect(
        HTTPRequest(f"{ws_url}?{query}", headers={"Origin": ws_url.replace("ws", "http", 1).split("/present")[0]}),
        subprotocols=["bokeh", token],
    )
    ack = await _read(connection, 3)
    assert json.loads(ack[0])["msgtype"] == "ACK", ack
    request = Protocol().create("PULL-DOC-REQ")
    for part in (request.header_json, request.metadata_json, request.content_json):
        await connection.write_message(part)
    reply = await _read(connection, 3)
    header = json.loads(reply[0])
    assert header["msgtype"] == "PULL-DOC-REPLY", header
    buffers = await _read(connection, 2 * header.get("num_buffers", 0))
    return connection, reply[2] + "".join(b if isinstance(b, str) else "" for b in buffers)


async def _pull_document(ws_url: str, arguments: dict[str, str]) -> str:
    connection, document = await _open_session(ws_url, arguments)
    connection.close()
    return document


def test_a_read_only_link_opens_its_present_page_and_nothing_else(tmp_path: Path) -> None:
    home = tmp_path / "home"

    async def scenario() -> None:
        server, base, _token, patterns = await _serve(home)
        projects = Home(home)
        digits = projects.find("digits")
        projects.create("other").close()
        other = projects.find("other")
        link = ViewTokens(home).create(digits.id, "group meeting")
        view = {"Authorization": f"token {link.token}"}
        try:
            # Its own project's present page, by id or by name; the first visit sets the view cookie only.
            code, page = await _status(f"{base}/present?project={digits.id}&token={link.token}")
            assert code == 200, page.body[:300]
            cookie = page.headers["Set-Cookie"]
            assert cookie.startswith(f"{VIEW_COOKIE}={link.token}") and "HttpOnly" in cookie, cookie
            code, _ = await _status(f"{base}/present?project=digits&execution=latest", headers=view)
            assert code == 200
            by_cookie = {"Cookie": f"{VIEW_COOKIE}={link.token}"}
            code, _ = await _status(f"{base}/present?project=digits", headers=by_cookie)
            assert code == 200
            statics = re.findall(r'src="(static/[^"?]+)', page.body.decode())
            assert statics, "the present page loads no script from /static"
            for script in statics:
                code, _ = await _status(f"{base}/{script}", headers=by_cookie)
                assert code == 200, (script, code)
            ws = base.replace("http", "ws")
            assert await _refused_upgrade(f"{ws}/present/ws", Origin=base, **view) == 101

            # Everything else refuses it, saying why.
            refused = {
                "the present page of another project": f"/present?project={other.id}",
                "the present page of another project, by name": "/present?project=other",
                "the present page without a project": "/present",
                "the start page": "/",
                "the workbench page": "/?project=digits",
                "the API": "/api/v1/projects",
                "the API on its project": "/api/v1/projects/digits/executions",
                "a download": "/api/v1/projects/digits/artifacts/x/content",
                "the present page's autoload script": "/present/autoload.js",
                "the peer routes": f"/peer/{digits.id}/history",
            }
            for what, path in refused.items():
                code, response = await _status(base + path, headers=view)
                assert code == 403, f"{what} ({path}) answered {code}"
                body = response.body.decode()
                assert "read-only link" in body and "digits" in body, (what, body[:300])
                if path.startswith("/api/"):
                    assert "read-only link" in json.loads(body)["error"]
            code, _ = await _status(f"{base}/present?project=digits", method="POST", body=b"", headers=view)
            assert code == 403
            for websocket in ("/ws", f"/sync/{digits.id}", "/sync/digits", f"/sync/{other.id}"):
                assert await _refused_upgrade(ws + websocket, Origin=base, **view) == 403, websocket

            # Every route of the table but the few viewers need, those added after this test was written too.
            for pattern in patterns:
                path = example_path(pattern)
                if any(re.match(f"^{allowed}", path) for allowed in OPEN_TO_VIEWERS) or path in ("/present/",):
                    continue
                code, _ = await _status(base + path, headers=view)
                assert code == 403, f"{path} ({pattern}) answered {code} to a read-only link"

            # A project's share token is no read-only link, and the home's token opens the page too.
            share = projects.share_token("digits")
            code, _ = await _status(f"{base}/present?project=digits&token={share}")
            assert code == 403
            code, _ = await _status(f"{base}/present?project=other", headers={"Authorization": f"token {_token}"})
            assert code == 200

            # Revoked: refused at once, saying so.
            ViewTokens(home).revoke(digits.id, link.id)
            code, response = await _status(f"{base}/present?project=digits&token={link.token}")
            assert code == 403 and "revoked" in response.body.decode()
            assert await _refused_upgrade(f"{ws}/present/ws", Origin=base, **view) == 403
        finally:
            server.stop()

    asyncio.run(scenario())


def test_the_present_session_checks_its_project_again(tmp_path: Path) -> None:
    """The guard lets a read-only link's websocket through to ``/present/ws``, whose handshake may name any
    project: the page itself refuses a project the link does not open, naming none."""
    home = tmp_path / "home"

    async def scenario() -> None:
        server, base, _token, _ = await _serve(home)
        projects = Home(home)
        digits = projects.find("digits")
        projects.create("secret-project").close()
        link = ViewTokens(home).create(digits.id, "talk")
        ws = base.replace("http", "ws") + "/present/ws"
        try:
            own = await _pull_document(ws, {"project": "digits", "token": link.token})
            assert "df-present" in own and DENIED.split(":")[0] not in own
            forged = await _pull_document(ws, {"project": "secret-project", "token": link.token})
            # The page says no (escaped as HTML in the document), and shows nothing of that project.
            assert DENIED.split(":")[0] in forged and "df-present" not in forged
        finally:
            server.stop()

    asyncio.run(scenario())


def test_revoking_a_link_closes_its_open_present_sessions(tmp_path: Path) -> None:
    home = tmp_path / "home"

    async def scenario() -> None:
        server, base, _token, _ = await _serve(home)
        digits = Home(home).find("digits")
        link = ViewTokens(home).create(digits.id, "talk")
        ws = base.replace("http", "ws") + "/present/ws"
        try:
            connection, _document = await _open_session(ws, {"project": "digits", "token": link.token})
            ViewTokens(home).revoke(digits.id, link.id)
            # The server closes the session within a second or two (the page's notice of it, shown before the
            # close, is checked in a browser: tests/browser/test_present.py).
            while await asyncio.wait_for(connection.read_message(), 15) is not None:
                pass
            connection.close()
            assert connection.close_code == CLOSED_REVOKED, (connection.close_code, connection.close_reason)
        finally:
            server.stop()

    asyncio.run(scenario())
