"""A peer that sends what cannot be taken in is disconnected, the reason logged, and nothing it sent is applied.

The hostile peer is a real Tornado server on loopback answering the peer routes and the sync endpoint
with one kind of bad data each; the link runs on the loop of a real sync endpoint over a DocStore.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketHandler

from deepforge_panel.crdt import root
from deepforge_panel.crdt.peer_link import PeerLink
from deepforge_panel.crdt.peer_wire import PeerAddress
from deepforge_panel.crdt.protocol import sync_update
from tests.conftest import wait_until
from tests.servers import free_port
from tests.sync.served import Served

GOOD_HISTORY = {"project": {"id": "x", "name": "x"}, "heads": {"main": None}, "commits": []}


class _History(RequestHandler):
    def initialize(self, answer: Any) -> None:
        self.answer = answer

    def get(self) -> None:
        self.finish(self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer))


class _Empty(RequestHandler):
    def post(self) -> None:
        self.finish(json.dumps({"commits": [], "taken": [], "moved": {}}))

    def check_xsrf_cookie(self) -> None:
        pass


class _Sends(WebSocketHandler):
    def initialize(self, frame: bytes) -> None:
        self.frame = frame

    def open(self) -> None:
        self.write_message(self.frame, binary=True)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Served]:
    served = Served(tmp_path)
    store = served.store("local")
    served.call(lambda: root(store.doc, "meta").__setitem__("mine", "untouched"))
    yield served
    served.close()


def _hostile(served: Served, history: Any, frame: bytes, servers: list[Any]) -> PeerAddress:
    port = free_port()

    def listen() -> None:
        app = Application(
            [
                (r"/peer/x/history", _History, {"answer": history}),
                (r"/peer/x/(?:fetch|push)", _Empty),
                (r"/sync/x/main", _Sends, {"frame": frame}),
            ]
        )
        servers.append(app.listen(port, "127.0.0.1"))

    served.call(listen)
    return PeerAddress(f"http://127.0.0.1:{port}", "x", "")


@pytest.mark.parametrize(
    ("history", "frame", "why"),
    [
        (GOOD_HISTORY, b"\xff\xff\xff", "cannot be applied"),
        (GOOD_HISTORY, sync_update(b"\x01\x01\x9f\x8f\xbf\x07\x00\x28\x01\x00\x00"), "does not apply"),
        ({"project": {"id": "x"}, "heads": {}, "commits": [{"id": 5}]}, b"", "malformed history"),
        (b"<html>not json</html>", b"", "not JSON"),
    ],
    ids=["garbage-frame", "forged-update", "malformed-history", "not-json"],
)
def test_a_peer_sending_bad_data_is_disconnected_and_nothing_is_applied(
    local: Served, history: Any, frame: bytes, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    servers: list[Any] = []
    address = _hostile(local, history, frame, servers)
    before = local.state("local")
    store = local.store("local")
    states: list[tuple[str, str]] = []
    link = local.call(
        lambda: PeerLink(
            address,
            lambda: store,
            lambda branch: local.sync.room("local", branch),
            label="test",
            report=lambda status: states.append((status.state, status.error)),
        )
    )
    with caplog.at_level(logging.INFO, logger="deepforge_panel.crdt"):
        local.call(link.start)
        wait_until(lambda: link.status.attempts >= 2, timeout=20)
    asyncio.run_coroutine_threadsafe(link.stop(), local.loop).result(30)
    local.call(lambda: [server.stop() for server in servers])
    assert any(state == "disconnected" and why in error for state, error in states), states
    assert why in caplog.text, "the reason is logged"
    assert local.state("local") == before, "nothing the peer sent was applied"
    assert local.call(store.history) == ([], {"main": None})
