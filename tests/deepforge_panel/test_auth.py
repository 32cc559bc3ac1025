"""Sign-in: every route of the server's own route table refuses a request without the home's token."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from deepforge_panel.auth import COOKIE, home_token, is_loopback
from deepforge_panel.errors import ProjectError


def test_the_token_is_made_once_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    token = home_token(tmp_path / "home")
    assert len(token) >= 40 and home_token(tmp_path / "home") == token
    mode = stat.S_IMODE((tmp_path / "home" / "token").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert home_token(tmp_path / "other") != token


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.4", False)],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_no_token_is_refused_off_loopback(tmp_path: Path) -> None:
    from deepforge_panel.server import make_server

    with pytest.raises(ProjectError, match="without a token"):
        make_server(tmp_path / "home", port=0, address="0.0.0.0", auth=False)


def example_path(pattern: str) -> str:
    """A request path that the route ``pattern`` (a regex of the route table) matches."""
    path = pattern.rstrip("$")
    path = re.sub(r"\(\?!.*?\)", "", path)
    path = path.replace("(.*)", "x.js").replace("/?", "/")
    path = re.sub(r"\(\[\^/\]\+\)", "x", path)
    assert re.fullmatch(pattern.rstrip("$") + "$", path), (pattern, path)
    return path


async def _serve(home: Path) -> tuple[Any, str, str, list[str]]:
    from deepforge_panel.server import make_server

    server, hub = make_server(home, port=0)
    server.start()
    patterns = [rule.matcher.regex.pattern for rule in server._tornado.wildcard_router.rules]
    return server, f"http://127.0.0.1:{server.port}", home_token(hub.workspace.path), patterns


async def _status(url: str, **kwargs: Any) -> tuple[int, Any]:
    try:
        response = await AsyncHTTPClient().fetch(HTTPRequest(url, follow_redirects=False, **kwargs))
        return response.code, response
    except HTTPClientError as error:
        return error.code, error.response


def test_every_route_refuses_no_token_and_a_wrong_one_and_serves_the_right_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        server, base, token, patterns = await _serve(tmp_path / "home")
        try:
            assert len(patterns) >= 8, patterns
            for pattern in patterns:
                path = example_path(pattern)
                no_token, response = await _status(base + path)
                assert no_token in (401, 403), f"{path} ({pattern}) answered {no_token} without a token"
                if no_token == 401 and path.startswith("/api/"):  # JSON routes refuse in JSON
                    assert "token" in json.loads(response.body)["error"]
                elif no_token == 401:
                    assert "Sign in needed" in response.body.decode()
                wrong, _ = await _status(base + path + "?token=" + "x" * len(token))
                assert wrong in (401, 403), f"{path} ({pattern}) answered {wrong} to a wrong token"
                by_header, _ = await _status(base + path, headers={"Authorization": f"token {token}"})
                assert by_header not in (401, 403), f"{path} ({pattern}) refused the right token: {by_header}"
        finally:
            server.stop()

    asyncio.run(scenario())


def test_the_first_visit_sets_an_http_only_cookie_that_signs_in_later_requests(tmp_path: Path) -> None:
    async def scenario() -> None:
        server, base, token, _ = await _serve(tmp_path / "home")
        try:
            code, response = await _status(f"{base}/?token={token}")
            assert code == 200
            cookie = response.headers["Set-Cookie"]
            assert cookie.startswith(f"{COOKIE}={token}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            code, page = await _status(f"{base}/?project=digits", headers={"Cookie": f"{COOKIE}={token}"})
            assert code == 200 and b"DeepForge-Panel" in page.body
        finally:
            server.stop()

    asyncio.run(scenario())


def test_the_session_websocket_needs_the_token_and_the_same_origin(tmp_path: Path) -> None:
    async def scenario() -> None:
        server, base, token, _ = await _serve(tmp_path / "home")
        ws = base.replace("http", "ws") + "/ws"
        origin = {"Origin": base}
        try:
            with pytest.raises(HTTPClientError) as refused:
                await websocket_connect(HTTPRequest(ws, headers=origin))
            assert refused.value.code == 403
            with pytest.raises(HTTPClientError) as foreign:
                await websocket_connect(
                    HTTPRequest(ws, headers={"Origin": "http://evil.example", "Authorization": f"token {token}"})
                )
            assert foreign.value.code == 403
            # With the token and this origin, the upgrade is accepted (Bokeh then wants its session handshake).
            connection = await websocket_connect(HTTPRequest(ws, headers={**origin, "Authorization": f"token {token}"}))
            connection.close()
        finally:
            server.stop()

    asyncio.run(scenario())


def test_serve_without_a_token_off_loopback_says_why_and_exits(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepforge_panel.cli",
            "serve",
            "--home",
            str(tmp_path),
            "--no-token",
            "--address",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr
