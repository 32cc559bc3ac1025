"""Peer sync: how fast a burst of edits on one workbench shows on its peer, and how fast a long history clones.

    python bench/peer_sync.py [--edits 1000] [--commits 1000] [--rounds 3]

Starts two workbenches (``deepforge-panel serve``, each its own home) on loopback; the second clones
the first's example project and links to it. Then:

* burst: a Yjs client (Node, ``tests/sync/js/client.js``) on the first makes ``--edits`` map edits, one
  transaction each, as fast as it can; the clock runs until a Yjs client on the *second* workbench has
  the last one. Baseline, in the same run: the same burst until a client on the *same* workbench has it.
* clone: a project of ``--commits`` commits is made on the first workbench, then cloned over HTTP
  (:func:`deepforge_panel.crdt.peer_link.clone`). Baseline: the same history copied store to store in
  one process (export, then take), which is what a clone costs without the network and JSON.

Prints medians and the ratios. Needs ``./scripts/setup-node``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepforge_panel.crdt import DocStore, Home, root  # noqa: E402
from deepforge_panel.crdt.peer_link import clone  # noqa: E402
from deepforge_panel.crdt.peer_wire import PeerAddress  # noqa: E402
from tests.deepforge_panel.test_peering import cli  # noqa: E402
from tests.servers import Server  # noqa: E402
from tests.sync.node import NodeClient  # noqa: E402


def burst(writer: NodeClient, reader: NodeClient, edits: int, key: str) -> float:
    """Milliseconds from the first edit until ``reader`` has the last."""
    started = time.perf_counter()
    writer.call("edits", root="meta", key=key, count=edits, timeout=120)
    reader.wait_for(lambda doc: doc["meta"].get(key) == edits - 1, "meta", timeout=120)
    return (time.perf_counter() - started) * 1000


def long_history(home: Path, commits: int) -> str:
    store = Home(home).create("long")
    try:
        meta = root(store.open(), "meta")
        meta["name"] = "long"
        for i in range(commits):
            meta[f"k{i % 50}"] = i
            store.commit(f"commit {i}", author="bench")
    finally:
        store.close()
    return "long"


def copy_locally(source_path: Path, target: Path) -> float:
    """Milliseconds to copy the history store to store in one process (the clone's baseline)."""
    started = time.perf_counter()
    source = DocStore(source_path)
    source.open()
    copy = DocStore(target)
    _, heads = source.history()
    copy.take_history(source.export_commits(), {n: h for n, h in heads.items() if h})
    copy.open().apply_update(source.doc.get_update())
    elapsed = (time.perf_counter() - started) * 1000
    source.close()
    copy.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        a, b = Server(folder / "a" / "home"), Server(folder / "b" / "home")
        try:
            share = cli("share", "digits", home=a.home).strip()
            cli("clone", share, "--name", "shared", home=b.home)
            url_a, url_b = f"ws://127.0.0.1:{a.port}/sync", f"ws://127.0.0.1:{b.port}/sync"
            writer = NodeClient(url_a, "digits", a.token)
            local, remote = NodeClient(url_a, "digits", a.token), NodeClient(url_b, "shared", b.token)
            for client in (writer, local, remote):
                client.synced()
            deadline = time.monotonic() + 60
            while "\tconnected" not in cli("peers", "shared", home=b.home):
                if time.monotonic() > deadline:
                    sys.exit("the link did not connect within 60 s")
                time.sleep(0.1)
            same, peer = [], []
            for round_number in range(args.rounds):
                same.append(burst(writer, local, args.edits, f"same{round_number}"))
                peer.append(burst(writer, remote, args.edits, f"peer{round_number}"))
                print(
                    f"round {round_number + 1}: {args.edits} edits seen on the same workbench after"
                    f" {same[-1]:.0f} ms, on the peer after {peer[-1]:.0f} ms",
                    flush=True,
                )
            for client in (writer, local, remote):
                client.close()

            long_history(a.home, args.commits)
            entry = Home(a.home).find("long")
            address = PeerAddress.parse(share).with_project(entry.id)
            address = PeerAddress(address.server, entry.id, Home(a.home).share_token(entry.id))
            clones, copies = [], []
            for round_number in range(args.rounds):
                started = time.perf_counter()
                asyncio.run(clone(address, Home(b.home), f"long{round_number}"))
                clones.append((time.perf_counter() - started) * 1000)
                copies.append(copy_locally(entry.path, folder / f"copy{round_number}.sqlite"))
                print(
                    f"round {round_number + 1}: clone of {args.commits} commits {clones[-1]:.0f} ms,"
                    f" local copy {copies[-1]:.0f} ms",
                    flush=True,
                )
        finally:
            a.stop()
            b.stop()
    same_ms, peer_ms = statistics.median(same), statistics.median(peer)
    clone_ms, copy_ms = statistics.median(clones), statistics.median(copies)
    print(f"burst of {args.edits} edits (medians of {args.rounds}):")
    print(f"  seen on the peer workbench:  {peer_ms:.0f} ms")
    print(f"  seen on the same workbench:  {same_ms:.0f} ms (baseline)")
    print(f"  ratio peer / same: {peer_ms / same_ms:.2f}")
    print(f"clone of a project with {args.commits} commits (medians of {args.rounds}):")
    print(f"  over HTTP from the peer:     {clone_ms:.0f} ms")
    print(f"  store to store in-process:   {copy_ms:.0f} ms (baseline)")
    print(f"  ratio clone / local copy: {clone_ms / copy_ms:.2f}")


if __name__ == "__main__":
    main()
