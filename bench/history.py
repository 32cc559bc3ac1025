"""Time a long history: a 1,000-node pipeline, then many commits, each after a small edit.

Builds the project on a real ``DocStore`` (SQLite file, synchronous writes) with the document's
own shape (a pipeline of nodes and edges; now and then a small execution record), then prints:
commit time (mean, p95, max), open time of the project (first open folds the log, then a plain
one), checkout time of the oldest commit, of the commit with the longest chain of deltas and of
the newest one, and the database's size against the document's update log (every update ever
appended) and against what one full snapshot per commit would take.

    python bench/history.py [--commits 10000] [--nodes 1000] [--seed 1]

Goals (issue 8.7): open < 1 s, commit < 50 ms, oldest checkout < 200 ms, database < 5x the log.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from pycrdt import Doc, Map, Text

from deepforge_panel.crdt import DocStore, root


def build(store: DocStore, nodes: int) -> tuple[Map, list[str]]:
    """A pipeline of ``nodes`` chained nodes, one transaction per node as the editor makes them."""
    doc = store.doc
    node_map, edge_map = Map(), Map()
    root(doc, "operations")["op"] = Map({"name": "Dense", "code": Text("class Dense:\n    pass\n")})
    root(doc, "pipelines")["pl"] = Map({"name": "big", "nodes": node_map, "edges": edge_map})
    ids = [f"n{i:04d}" for i in range(nodes)]
    for i, nid in enumerate(ids):
        with doc.transaction():
            node_map[nid] = Map(
                {
                    "name": f"dense_{i}",
                    "operation": "op",
                    "attributes": Map({"units": "32", "activation": '"relu"'}),
                    "references": Map(),
                    "x": float(i % 40) * 120.0,
                    "y": float(i // 40) * 90.0,
                }
            )
            if i:
                edge_map[f"e{i:04d}"] = Map({"src": ids[i - 1], "src_port": "out", "dst": nid, "dst_port": "x"})
    return node_map, ids


def small_edit(doc: Doc, node_map: Map, ids: list[str], step: int, rng: random.Random) -> None:
    """One user-sized change; every 100th step a small run record (10 jobs, a status and a line each)."""
    node = node_map[rng.choice(ids)]
    kind = rng.random()
    with doc.transaction():
        if step % 100 == 99:
            jobs = Map(
                {
                    f"j{step}-{k}": Map(
                        {"node": rng.choice(ids), "status": "succeeded", "stdout": Text(f"epoch {k}\n")}
                    )
                    for k in range(10)
                }
            )
            root(doc, "executions")[f"x{step}"] = Map({"status": "succeeded", "commit": "", "jobs": jobs})
        elif kind < 0.6:
            node["x"], node["y"] = rng.uniform(0, 5000), rng.uniform(0, 5000)
        elif kind < 0.9:
            node["attributes"]["units"] = str(rng.choice([16, 32, 64, 128]))
        else:
            node["name"] = f"dense_{step}"


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=10000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "project.sqlite"
        store = DocStore(path)
        doc = store.open()
        started = time.perf_counter()
        node_map, ids = build(store, args.nodes)
        built = time.perf_counter() - started
        full_sizes, commit_ms = [], []
        first = store.commit("build", author="bench")
        started = time.perf_counter()
        for step in range(args.commits - 1):
            small_edit(doc, node_map, ids, step, rng)
            t0 = time.perf_counter()
            store.commit(f"edit {step}", author="bench")
            commit_ms.append((time.perf_counter() - t0) * 1000)
            if step % 500 == 0:
                full_sizes.append(len(doc.get_update()))
        history = time.perf_counter() - started
        log_bytes = store._db.execute("SELECT SUM(LENGTH(data)) FROM updates").fetchone()[0]
        live_bytes = len(doc.get_update())
        newest = store.head()
        deepest = store._db.execute("SELECT id, depth FROM commits ORDER BY depth DESC LIMIT 1").fetchone()
        checkpoints = store._db.execute("SELECT COUNT(*) FROM commits WHERE delta = 0").fetchone()[0]
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()

        opens = []
        for _ in range(2):  # the first open folds the long log into one row
            t0 = time.perf_counter()
            again = DocStore(path)
            again.open()
            opens.append(time.perf_counter() - t0)
            again.close()
        reader = DocStore(path)
        checkouts = {}
        for label, commit_id in (("oldest", first), (f"deepest ({deepest[1]} deltas)", deepest[0]), ("newest", newest)):
            t0 = time.perf_counter()
            reader.checkout(commit_id or "")
            checkouts[label] = (time.perf_counter() - t0) * 1000
        reader._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader.close()
        size = db_bytes(path)

    snapshots = statistics.mean(full_sizes) * args.commits
    commit_ms.sort()
    print(f"{args.nodes}-node pipeline, {args.commits} commits each after a small edit (built in {built:.1f} s)")
    print(
        f"  commit:   mean {statistics.mean(commit_ms):.2f} ms, p95 {commit_ms[int(len(commit_ms) * 0.95)]:.2f} ms,"
        f" max {commit_ms[-1]:.2f} ms  (history of edits + commits took {history:.1f} s)"
    )
    print(f"  open:     first {opens[0] * 1000:.0f} ms (folds the log), then {opens[1] * 1000:.0f} ms")
    print("  checkout: " + ", ".join(f"{label} {ms:.1f} ms" for label, ms in checkouts.items()))
    print(
        f"  size:     database {size / 1e6:.2f} MB, update log {log_bytes / 1e6:.2f} MB"
        f" -> ratio {size / log_bytes:.2f}; live document {live_bytes / 1e6:.2f} MB;"
        f" {checkpoints} checkpoints; one snapshot per commit would be ~{snapshots / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
