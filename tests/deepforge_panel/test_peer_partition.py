"""Three workbenches edit one project while the links between them are cut and restored at random; once every
link is back, their documents and commit graphs are identical. Bounded and seeded: a seed replays the same cuts, kill and kinds of edits.

The suite runs :data:`SUITE_SEEDS` (with a kill -9 of one peer half-way through the first); ``-m slow`` runs
:data:`SLOW_SEEDS` as well, longer.
"""

from __future__ import annotations

import json
import random
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc

from deepforge_panel.crdt import ROOTS, DocStore, Home, root
from deepforge_panel.crdt.peer_book import OUT, PeerBook
from deepforge_panel.crdt.peer_wire import PeerAddress
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.project import Project
from tests.conftest import wait_until
from tests.deepforge_panel.test_peering import cli
from tests.servers import Server

SUITE_SEEDS = {1: 60, 2: 60}
"""Seed -> rounds, in the suite (120 rounds)."""
SLOW_SEEDS = {3: 150, 4: 150}
HEAL_S = 120.0


@dataclass
class Peer:
    server: Server
    name: str
    """The project's name in this peer's home."""
    path: Path
    """Its store file."""


@dataclass
class Link:
    owner: Peer
    address: PeerAddress


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Peer], list[Link]]]:
    folder = tmp_path_factory.mktemp("partition")
    servers = [Server(folder / side / "home") for side in "abc"]
    try:
        a, b, c = servers
        share_a = cli("share", "digits", home=a.home).strip()
        cli("clone", share_a, "--name", "shared", home=b.home)
        share_b = cli("share", "shared", home=b.home).strip()
        cli("clone", share_b, "--name", "shared", home=c.home)
        peers = [
            Peer(a, "digits", Home(a.home).find("digits").path),
            Peer(b, "shared", Home(b.home).find("shared").path),
            Peer(c, "shared", Home(c.home).find("shared").path),
        ]
        cli("peers", "shared", "add", share_a, home=c.home)  # a triangle: c reaches a directly and through b
        links = [Link(owner, peer.link) for owner in peers for peer in _book(owner).peers(OUT)]
        assert len(links) == 3
        yield peers, links
    finally:
        for server in servers:
            server.stop()


def _book(peer: Peer) -> PeerBook:
    return PeerBook(peer.path)


def _set_link(link: Link, up: bool) -> None:
    book = _book(link.owner)
    try:
        if up:
            book.add(link.address)
        else:
            book.remove(link.address.display)
    finally:
        book.close()


def _pick(items: list[Any], draw: float) -> Any:
    return items[min(int(draw * len(items)), len(items) - 1)]


def _edit(draws: list[float], peer: Peer, round_: int) -> None:
    """One random edit (pipelines, attributes, operation code, architecture layers) or commit, by another
    process than the peer's server, as the CLI edits: the server picks it up from the store.

    ``draws`` (numbers in [0, 1), as many every round) choose everything, so which kind of edit each round
    makes never depends on what has synced by then: a seed replays the same kinds of edits, cuts and kill.
    """
    roll, first, second, third = draws
    project = Project.open(DocStore(peer.path))
    try:
        operations = sorted(project.operations.all(), key=lambda o: o.id)
        pipelines = sorted(project.pipelines.all(), key=lambda p: p.id)
        if roll < 0.1:
            project.commit(f"round {round_}", author=peer.server.home.parent.name)
        elif roll < 0.25:
            project.pipelines.create(f"p{round_}-{peer.name}-{int(first * 10**6)}")
        elif roll < 0.45 and pipelines and operations:
            pipeline = _pick(pipelines, first)
            project.pipelines.add_node(pipeline.id, _pick(operations, second).id, x=third * 500)
        elif roll < 0.6 and pipelines:
            pipeline = project.pipelines.get(_pick(pipelines, first).id)
            if pipeline.nodes:
                node = _pick(sorted(pipeline.nodes.values(), key=lambda n: n.id), second)
                project.pipelines.move_node(pipeline.id, node.id, third * 800, first * 600)
        elif roll < 0.8 and operations:
            operation = _pick(operations, first)
            project.operations.set_code(operation.id, f"{operation.code.rstrip()}\n# edit {round_} on {peer.name}\n")
        else:
            architectures = ArchitecturesView(project)
            existing = sorted(architectures.all(), key=lambda a: a.id)
            target = _pick(existing, first).id if existing and second < 0.8 else None
            if target is None:
                target = architectures.create(f"net{round_}-{int(first * 10**6)}")
            architectures.add_layer(target, "Dense", {"units": 1 + int(third * 64)})
    except USER_ERRORS:
        pass  # a random edit the project refuses (a name taken since): refused, nothing written
    finally:
        project.close()


def _state(peer: Peer) -> dict[str, Any]:
    """The peer server's live document (every root) as JSON."""
    request = urllib.request.Request(f"{peer.server.url}peer/{peer.path.parent.name}/state/main")
    request.add_header("Authorization", f"token {peer.server.token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        doc: Doc = Doc()
        doc.apply_update(response.read())
    return {name: root(doc, name).to_py() for name in ROOTS}


def _graph(peer: Peer) -> set[tuple[Any, ...]]:
    request = urllib.request.Request(f"{peer.server.url}peer/{peer.path.parent.name}/history")
    request.add_header("Authorization", f"token {peer.server.token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        history = json.loads(response.read())
    return {
        (c["id"], c["parent"], tuple(c["merged"]), c["branch"], c["author"], c["message"]) for c in history["commits"]
    }


def _identical(peers: list[Peer]) -> bool:
    states = [_state(peer) for peer in peers]
    graphs = [_graph(peer) for peer in peers]
    return all(s == states[0] for s in states) and all(g == graphs[0] for g in graphs)


def _label(peer: Peer) -> str:
    """How ``peer``'s server introduces itself to the peers it links to."""
    return f"{socket.gethostname()}:{peer.server.port}"


def _remote(peers: list[Peer], link: Link) -> Peer:
    return next(peer for peer in peers if f":{peer.server.port}" in link.address.server)


def _settled(peers: list[Peer], link: Link, up: bool) -> bool:
    """Whether both ends have taken the cut (or the repair) in: the far end saw the link go, or the owner's
    link reports connected."""
    if up:
        book = _book(link.owner)
        try:
            return book.get(link.address.display).state == "connected"
        finally:
            book.close()
    book = _book(_remote(peers, link))
    try:
        return book.get(_label(link.owner)).state == "disconnected"
    except LookupError:
        return True
    finally:
        book.close()


def _books_report(peers: list[Peer], link: Link, up: bool) -> str:
    """What both ends of ``link`` say, for a failure message."""
    lines = [f"link {_label(link.owner)} -> {link.address.display} should be {'up' if up else 'down'}"]
    for peer in (link.owner, _remote(peers, link)):
        book = _book(peer)
        try:
            lines += [f"  book of {_label(peer)}: {p.address} {p.direction} {p.state} {p.error}" for p in book.peers()]
        finally:
            book.close()
    return "\n".join(lines)


def _partition(trio: tuple[list[Peer], list[Link]], seed: int, rounds: int, kill_at: int | None) -> None:
    peers, links = trio
    rng = random.Random(seed)
    up = {id(link): True for link in links}
    isolated_edits = 0
    for round_ in range(rounds):
        if kill_at is not None and round_ == kill_at:
            victim = peers[1].server
            victim.kill()
            victim.start()
        cut, which, who, *draws = (rng.random() for _ in range(7))
        if cut < 0.3:
            link = _pick(links, which)
            up[id(link)] = not up[id(link)]
            _set_link(link, up[id(link)])
            try:
                wait_until(lambda link=link: _settled(peers, link, up[id(link)]), timeout=HEAL_S, interval=0.1)
            except AssertionError:
                raise AssertionError(f"round {round_}: {_books_report(peers, link, up[id(link)])}") from None
        editor = _pick(peers, who)
        touching = [link for link in links if editor in (link.owner, _remote(peers, link))]
        isolated_edits += not any(up[id(link)] for link in touching)
        _edit(draws, editor, round_)
    for link in links:
        if not up[id(link)]:
            _set_link(link, True)
    wait_until(lambda: _identical(peers), timeout=HEAL_S, interval=0.5)
    commits = _graph(peers[0])
    assert len(commits) > 1 and all(_graph(peer) == commits for peer in peers)
    assert isolated_edits > 0, "some edits were made by a peer cut off from every other"
    print(f"seed {seed}: {rounds} rounds, {isolated_edits} edits made while cut off, {len(commits)} commits")


@pytest.mark.parametrize("seed", sorted(SUITE_SEEDS))
def test_peers_converge_after_random_partitions(trio: tuple[list[Peer], list[Link]], seed: int) -> None:
    rounds = SUITE_SEEDS[seed]
    _partition(trio, seed, rounds, kill_at=rounds // 2 if seed == min(SUITE_SEEDS) else None)


@pytest.mark.slow
@pytest.mark.parametrize("seed", sorted(SLOW_SEEDS))
def test_peers_converge_after_many_random_partitions(trio: tuple[list[Peer], list[Link]], seed: int) -> None:
    _partition(trio, seed, SLOW_SEEDS[seed], kill_at=SLOW_SEEDS[seed] // 3)
