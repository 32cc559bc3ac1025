"""The sync endpoint over the hub's live projects: Node clients and project views share one document.

In-process (the hub and endpoint on a loop thread, as in the server) for the hub's side: edits both
ways, branches, ids, rename and delete; the real ``deepforge-panel serve`` for what needs a process
of its own: an edit a client saw relayed survives ``kill -9``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepforge_panel.crdt import Home
from deepforge_panel.crdt.sync import CLOSE_GONE
from deepforge_panel.hub import ProjectHub
from deepforge_panel.server import sync_server
from deepforge_panel.workspace import Workspace
from tests.conftest import wait_until
from tests.sync.node import NodeClient, require_node_modules
from tests.sync.served import Served


class HubServed:
    """A hub of a fresh home (with the digits example) and its sync endpoint, served on a loop thread."""

    def __init__(self, tmp_path: Path) -> None:
        self.hub = ProjectHub(Workspace(tmp_path / "home"))
        self.served = Served(tmp_path, sync=sync_server(self.hub))
        self.clients: list[NodeClient] = []

    def client(self, room: str = "digits") -> NodeClient:
        client = NodeClient(self.served.url, room)
        self.clients.append(client)
        return client

    def pipeline_id(self, name: str, project: str = "digits", branch: str = "main") -> str:
        return self.served.call(lambda: self.hub.project(project, branch).pipelines.find(name).id)

    def pipeline_names(self, project: str = "digits", branch: str = "main") -> set[str]:
        return self.served.call(lambda: {p.name for p in self.hub.project(project, branch).pipelines.all()})

    def close(self) -> None:
        for client in self.clients:
            client.close()
        asyncio.run_coroutine_threadsafe(self.hub.close(), self.served.loop).result(30)
        self.served.close()


@pytest.fixture
def hub_served(tmp_path: Path) -> Iterator[HubServed]:
    require_node_modules()
    running = HubServed(tmp_path)
    yield running
    running.close()


def names(doc: dict[str, dict[str, dict[str, object]]]) -> set[object]:
    return {record["name"] for record in doc["pipelines"].values()}


def test_a_node_edit_is_seen_by_the_project_and_its_observers(hub_served: HubServed) -> None:
    train = hub_served.pipeline_id("train")
    seen: list[str] = []
    hub_served.served.call(lambda: hub_served.hub.project("digits").on_change(["pipelines"], seen.append))
    client = hub_served.client()
    client.synced()
    client.call("set", root="pipelines", path=[train], key="name", value="train-from-node")
    wait_until(lambda: "train-from-node" in hub_served.pipeline_names(), message="the rename in the project view")
    assert "pipelines" in seen


def test_a_project_edit_reaches_the_node_client(hub_served: HubServed) -> None:
    client = hub_served.client()
    client.synced()
    train = hub_served.pipeline_id("train")
    hub_served.served.call(lambda: hub_served.hub.project("digits").pipelines.rename(train, "renamed-in-python"))
    client.wait_for(lambda doc: "renamed-in-python" in names(doc), "pipelines")


def test_a_project_is_served_by_id_and_a_branch_on_its_own(hub_served: HubServed) -> None:
    project_id = hub_served.served.call(lambda: hub_served.hub.workspace.home.find("digits").id)

    def branch() -> None:
        project = hub_served.hub.project("digits")
        project.commit("before the branch", author="test")
        project.branch("exp")

    hub_served.served.call(branch)
    by_id = hub_served.client(project_id)
    on_branch = hub_served.client("digits/exp")
    by_id.synced()
    on_branch.synced()
    train = hub_served.pipeline_id("train", branch="exp")
    on_branch.call("set", root="pipelines", path=[train], key="name", value="train-on-exp")
    wait_until(lambda: "train-on-exp" in hub_served.pipeline_names(branch="exp"), message="the edit on branch exp")
    assert "train-on-exp" not in hub_served.pipeline_names()
    assert "train-on-exp" not in names(by_id.dump("pipelines"))


def test_renaming_a_project_closes_its_clients_and_the_new_name_serves_it(hub_served: HubServed) -> None:
    client = hub_served.client()
    client.synced()
    hub_served.served.call(lambda: hub_served.hub.rename("digits", "digits-renamed"))
    closed = client.expect(lambda e: e.get("event") == "closed", what="a terminal close")
    assert closed["code"] == CLOSE_GONE
    assert "renamed to 'digits-renamed'" in closed["reason"]
    again = hub_served.client("digits-renamed")
    again.synced()
    assert "train" in names(again.dump("pipelines"))


def test_deleting_a_project_closes_its_clients(hub_served: HubServed) -> None:
    first, second = hub_served.client(), hub_served.client()
    first.synced()
    second.synced()
    hub_served.served.call(lambda: hub_served.hub.delete("digits"))
    for client in (first, second):
        closed = client.expect(lambda e: e.get("event") == "closed", what="a terminal close")
        assert (closed["code"], closed["reason"]) == (CLOSE_GONE, "the project was deleted")


@pytest.mark.slow
def test_an_edit_relayed_to_another_client_survives_kill_9(tmp_path: Path) -> None:
    require_node_modules()
    from tests.servers import Server

    server = Server(tmp_path / "home")
    url = f"ws://127.0.0.1:{server.port}/sync"
    writer, reader = NodeClient(url, "digits", server.token), NodeClient(url, "digits", server.token)
    try:
        writer.synced()
        reader.synced()
        pipelines = writer.dump("pipelines")["pipelines"]
        train = next(pid for pid, record in pipelines.items() if record["name"] == "train")
        writer.call("set", root="pipelines", path=[train], key="name", value="survives-kill")
        reader.wait_for(lambda doc: doc["pipelines"][train]["name"] == "survives-kill", "pipelines")
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
    finally:
        writer.close()
        reader.close()
        server.stop()
    home = Home(tmp_path / "home")
    store = home.open("digits")
    try:
        assert store.open()["pipelines"][train]["name"] == "survives-kill"
    finally:
        store.close()


def test_a_project_name_with_spaces_and_dots_is_served(hub_served: HubServed) -> None:
    hub_served.served.call(lambda: hub_served.hub.create("two words.v2"))
    client = hub_served.client("two words.v2")
    client.synced()
    client.call("set", root="meta", key="description", value="spaces travel percent-encoded")
    wait_until(
        lambda: (
            hub_served.served.call(lambda: hub_served.hub.project("two words.v2").meta.get("description"))
            == "spaces travel percent-encoded"
        )
    )
