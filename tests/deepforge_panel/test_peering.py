"""Workbenches on separate homes, as separate processes on loopback, sharing a project: clone, live edits both
ways, history both ways, peers listed, trust, and a link that heals after the peer was killed with -9."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.crdt import DocStore, Home
from deepforge_panel.project import Project
from tests.conftest import wait_until
from tests.deepforge_panel.helpers import SOURCE
from tests.servers import Server
from tests.sync.node import NodeClient, require_node_modules

LOUD_ADD = """
class LoudAdd:
    def __init__(self, amount: int = 1):
        self.amount = amount

    def execute(self, data):
        print(f"adding {self.amount} to {data}")
        result = data + self.amount
        return result
"""
CLI = [sys.executable, "-m", "deepforge_panel.cli"]
LINK_S = 20.0
"""Deadline for what a link carries (it is there within a second when all is well; CI machines are slow)."""


def cli(*args: str, home: Path) -> str:
    done = subprocess.run([*CLI, *args, "--home", str(home)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Pair:
    a: Server
    b: Server
    share: str
    """A's share address of its project "digits"."""
    remote_id: str
    """The project's id on A (B's copy is "shared")."""

    def store(self, side: Server, name: str) -> DocStore:
        return Home(side.home).open(name)

    def ws(self, side: Server) -> str:
        return f"ws://127.0.0.1:{side.port}/sync"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    require_node_modules()
    root_dir = tmp_path_factory.mktemp("peers")
    a = Server(root_dir / "a" / "home")
    b = Server(root_dir / "b" / "home")
    try:
        share = cli("share", "digits", home=a.home).strip()
        out = cli("clone", share, "--name", "shared", home=b.home)
        assert "as 'shared'" in out
        remote_id = Home(a.home).find("digits").id
        yield Pair(a, b, share, remote_id)
    finally:
        a.stop()
        b.stop()


def _log(pair: Pair, side: Server, name: str) -> list[tuple[str, str | None, str, str, float]]:
    store = pair.store(side, name)
    try:
        return [(c.id, c.parent, c.author, c.message, c.time) for c in store.log()]
    finally:
        store.close()


def _peers(side: Server, name: str) -> str:
    return cli("peers", name, home=side.home)


def test_clone_copies_the_peers_history_and_live_state(pair: Pair) -> None:
    assert _log(pair, pair.b, "shared") == _log(pair, pair.a, "digits")
    a, b = NodeClient(pair.ws(pair.a), "digits", pair.a.token), NodeClient(pair.ws(pair.b), "shared", pair.b.token)
    try:
        a.synced()
        b.synced()
        wait_until(lambda: "connected" in _peers(pair.b, "shared"), timeout=LINK_S)
        names = lambda doc: sorted(p["name"] for p in doc["pipelines"].values())  # noqa: E731
        on_a = a.dump("pipelines", "operations")
        on_b = b.dump("pipelines", "operations")
        assert names(on_b) == names(on_a) and on_b["operations"].keys() == on_a["operations"].keys()
        assert len(on_b["pipelines"]) == len(on_a["pipelines"]), "the clone merged with its origin without doubling"
    finally:
        a.close()
        b.close()


def test_live_edits_travel_both_ways(pair: Pair) -> None:
    a, b = NodeClient(pair.ws(pair.a), "digits", pair.a.token), NodeClient(pair.ws(pair.b), "shared", pair.b.token)
    try:
        a.synced()
        b.synced()
        train = next(pid for pid, p in a.dump("pipelines")["pipelines"].items() if p["name"] == "train")
        a.call("set", root="pipelines", path=[train], key="name", value="train-from-a")
        b.wait_for(lambda doc: doc["pipelines"][train]["name"] == "train-from-a", "pipelines", timeout=LINK_S)
        b.call("set", root="meta", key="description", value="written on b")
        a.wait_for(lambda doc: doc["meta"].get("description") == "written on b", "meta", timeout=LINK_S)
    finally:
        a.close()
        b.close()


def test_commits_and_branches_travel_both_ways(pair: Pair) -> None:
    store_a = pair.store(pair.a, "digits")
    store_a.open()
    on_a = store_a.commit("committed on a", author="ada")
    store_a.branch("idea-a")
    store_a.close()
    wait_until(lambda: any(entry[0] == on_a for entry in _log(pair, pair.b, "shared")), timeout=LINK_S)
    assert _log(pair, pair.b, "shared")[0] == _log(pair, pair.a, "digits")[0]
    assert on_a in cli("log", "shared", home=pair.b.home)

    store_b = pair.store(pair.b, "shared")
    store_b.open()
    on_b = store_b.commit("committed on b", author="bob")
    store_b.branch("idea-b")
    store_b.close()
    wait_until(lambda: _log(pair, pair.a, "digits")[0][0] == on_b, timeout=LINK_S)
    commit = _log(pair, pair.a, "digits")[0]
    assert commit[1:4] == (on_a, "bob", "committed on b")

    def branches(side: Server, name: str) -> list[str]:
        store = pair.store(side, name)
        try:
            return store.branches()
        finally:
            store.close()

    wait_until(lambda: {"idea-a", "idea-b"} <= set(branches(pair.a, "digits")), timeout=LINK_S)
    wait_until(lambda: {"idea-a", "idea-b"} <= set(branches(pair.b, "shared")), timeout=LINK_S)
    client = NodeClient(pair.ws(pair.a), "digits/idea-b", pair.a.token)
    try:
        client.synced()
        assert client.dump("pipelines")["pipelines"], "branch idea-b opens on a with b's content"
    finally:
        client.close()
    store_a = pair.store(pair.a, "digits")
    store_a.open()
    try:
        assert store_a.restore(on_b, author="ada"), "a commit from the peer restores"
    finally:
        store_a.close()


def test_peers_are_listed_on_both_sides(pair: Pair) -> None:
    wait_until(lambda: "connected" in _peers(pair.b, "shared"), timeout=LINK_S)
    listed = _peers(pair.b, "shared")
    assert f"127.0.0.1:{pair.a.port}/?project={pair.remote_id}\tlinked to\tconnected" in listed
    assert pair.a.token not in listed and "token" not in listed
    wait_until(lambda: f":{pair.b.port}\tlinked from\tconnected" in _peers(pair.a, "digits"), timeout=LINK_S)


def _get(url: str, token: str | None = None, data: Any = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_share_token_opens_its_project_and_nothing_else(pair: Pair) -> None:
    token = pair.share.split("token=")[1]
    base = pair.a.url.rstrip("/")
    Home(pair.a.home).create("private").close()
    assert _get(f"{base}/peer/digits/history", token)[0] == 200
    assert _get(f"{base}/peer/{pair.remote_id}/history", token)[0] == 200
    assert _get(f"{base}/peer/private/history", token)[0] == 403
    assert _get(f"{base}/peer/private/history")[0] == 401
    status, page = _get(f"{base}/?project=digits&token={token}")
    assert status == 403 and b"shared project" in page
    with pytest.raises(AssertionError):
        NodeClient(pair.ws(pair.a), "private", token).synced(timeout=3)


def test_a_malformed_push_is_refused_and_nothing_is_stored(pair: Pair) -> None:
    token = pair.share.split("token=")[1]
    url = f"{pair.a.url.rstrip('/')}/peer/digits/push"
    before = _log(pair, pair.a, "digits")
    forged = {"id": "cforged", "parent": "cmissing", "merged": [], "branch": "main", "author": "eve",
              "message": "x", "time": 1.0, "delta": True, "state": "AAA="}  # fmt: skip
    for body in ({"commits": [forged], "heads": {"main": "cforged"}}, {"commits": "nope"}, {"commits": [{"id": 1}]}):
        status, answer = _get(url, token, body)
        assert status == 400, answer
    assert _log(pair, pair.a, "digits") == before


def test_a_link_cut_heals_and_edits_made_apart_merge(pair: Pair) -> None:
    """Cut the link (peers remove), edit both sides, link again: both edits on both; then kill -9 the peer,
    edit while it is down, restart it: the link comes back by itself and nothing acknowledged is lost."""
    a, b = NodeClient(pair.ws(pair.a), "digits", pair.a.token), NodeClient(pair.ws(pair.b), "shared", pair.b.token)
    try:
        a.synced()
        b.synced()
        peer = f"{pair.a.url}?project={pair.remote_id}&token={pair.share.split('token=')[1]}"
        cli("peers", "shared", "remove", peer, home=pair.b.home)
        wait_until(lambda: f":{pair.b.port}\tlinked from\tdisconnected" in _peers(pair.a, "digits"), timeout=LINK_S)
        a.call("set", root="meta", key="apart_a", value="made on a while apart")
        b.call("set", root="meta", key="apart_b", value="made on b while apart")
        time.sleep(0.5)  # not a wait for a condition: a pause in which nothing may cross
        assert "apart_a" not in b.dump("meta")["meta"]
        cli("peers", "shared", "add", peer, home=pair.b.home)
        both = lambda doc: {"apart_a", "apart_b"} <= set(doc["meta"])  # noqa: E731
        a.wait_for(both, "meta", timeout=LINK_S)
        b.wait_for(both, "meta", timeout=LINK_S)
    finally:
        a.close()
        b.close()

    pair.a.kill()
    b = NodeClient(pair.ws(pair.b), "shared", pair.b.token)
    try:
        b.synced()
        wait_until(lambda: "disconnected" in _peers(pair.b, "shared"), timeout=LINK_S)
        b.call("set", root="meta", key="while_a_was_down", value=True)
    finally:
        b.close()
    pair.a.start()
    a = NodeClient(pair.ws(pair.a), "digits", pair.a.token)
    try:
        a.synced()
        a.wait_for(lambda doc: doc["meta"].get("while_a_was_down") is True, "meta", timeout=LINK_S)
        assert {"apart_a", "apart_b"} <= set(a.dump("meta")["meta"]), "nothing a had acknowledged was lost"
    finally:
        a.close()
    wait_until(lambda: "connected" in _peers(pair.b, "shared"), timeout=LINK_S)


def test_presence_crosses_the_link(pair: Pair) -> None:
    """A Yjs user on one workbench is seen by a Yjs user on the other, and leaves there when they leave."""
    wait_until(lambda: "\tconnected" in _peers(pair.b, "shared"), timeout=LINK_S)
    a, b = NodeClient(pair.ws(pair.a), "digits", pair.a.token), NodeClient(pair.ws(pair.b), "shared", pair.b.token)
    try:
        a.synced()
        b.synced()
        a.call("awareness", state={"user": {"name": "ada on a", "color": "#d62728"}})
        names = lambda: {(s or {}).get("user", {}).get("name") for s in b.call("peers")["states"].values()}  # noqa: E731
        wait_until(lambda: "ada on a" in names(), timeout=LINK_S)
        a.close()
        wait_until(lambda: "ada on a" not in names(), timeout=LINK_S)
    finally:
        a.close()
        b.close()


def test_a_run_on_one_peer_shows_on_the_other_with_its_artifacts_where_they_are(pair: Pair) -> None:
    """The run's records (jobs, console) travel in the document; its artifacts say where they are stored."""
    project = Project.open(pair.store(pair.a, "digits"))
    try:
        source, add = project.operations.add(SOURCE), project.operations.add(LOUD_ADD)
        chain = project.pipelines.create("peer-chain")
        first = project.pipelines.add_node(chain, source, name="source")
        second = project.pipelines.add_node(chain, add, name="add")
        project.pipelines.add_edge(chain, first, "data", second, "data")
    finally:
        project.close()
    b = NodeClient(pair.ws(pair.b), "shared", pair.b.token)
    try:
        b.synced()
        out = cli("run", "digits", "peer-chain", home=pair.a.home)
        assert "succeeded" in out
        doc = b.wait_for(
            lambda d: any(
                e.get("pipeline_name") == "peer-chain" and e.get("status") == "succeeded"
                for e in d["executions"].values()
            ),
            "executions",
            "artifacts",
            timeout=LINK_S,
        )
        run = next(e for e in doc["executions"].values() if e.get("pipeline_name") == "peer-chain")
        assert {job["name"]: job["status"] for job in run["jobs"].values()} == {
            "source": "succeeded",
            "add": "succeeded",
        }
        assert any("adding 1 to 1" in job["stdout"] for job in run["jobs"].values()), "the consoles came along"
        made = [a for a in doc["artifacts"].values() if a["name"].startswith(("source.", "add."))]
        assert made and all(a["url"].startswith(Path(pair.a.home).as_uri()) for a in made)
    finally:
        b.close()


def test_revoking_the_share_token_cuts_the_links_made_with_it(pair: Pair) -> None:
    """Runs last: it changes A's share address. B's link is refused and says so; the new address links again."""
    old = pair.share.split("token=")[1]
    new_address = cli("share", "digits", "--revoke", home=pair.a.home).strip()
    assert old not in new_address
    history = f"{pair.a.url.rstrip('/')}/peer/digits/history"
    wait_until(lambda: _get(history, old)[0] == 401, timeout=LINK_S)  # the server remembers a token for 2 s
    wait_until(lambda: "refused the token" in _peers(pair.b, "shared"), timeout=LINK_S)
    stable = f"{pair.a.url}?project={pair.remote_id}&token={new_address.split('token=')[1]}"
    cli("peers", "shared", "add", stable, home=pair.b.home)
    wait_until(lambda: "\tconnected" in _peers(pair.b, "shared"), timeout=LINK_S)
