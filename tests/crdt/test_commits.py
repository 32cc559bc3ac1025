"""Commits stored as deltas with checkpoints (issue 8.7): exact versions, small history, old stores open."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from deepforge_panel.crdt import DocStore, Home, root, roots, to_py
from deepforge_panel.crdt import commits as commits_module
from deepforge_panel.crdt import store as store_module
from deepforge_panel.crdt.schema import ROOTS


def content(doc: Doc) -> dict[str, Any]:
    return {name: to_py(root(doc, name)) for name in ROOTS}


def content_of(state: bytes) -> dict[str, Any]:
    doc = Doc()
    roots(doc)
    doc.apply_update(state)
    return content(doc)


def edit(doc: Doc, rng: random.Random, step: int) -> None:
    """One small, varied edit: set, overwrite, delete keys; insert into and cut text."""
    ops, meta = root(doc, "operations"), root(doc, "meta")
    choice = rng.random()
    if choice < 0.3 or not ops:
        ops[f"op{step}"] = Map({"name": f"op {step}", "code": Text(f"x = {step}\n"), "n": float(step)})
    elif choice < 0.55:
        key = rng.choice(sorted(ops.keys()))
        ops[key]["code"].insert(0, f"# {step}\n")
    elif choice < 0.7:
        code = ops[rng.choice(sorted(ops.keys()))]["code"]
        if len(code) > 4:
            del code[1:3]
    elif choice < 0.8:
        del ops[rng.choice(sorted(ops.keys()))]
    else:
        meta["counter"] = float(step)
        meta[f"k{step % 7}"] = f"v{step}"


@pytest.fixture
def short_chains(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints every few commits, so a short history crosses many of them."""
    monkeypatch.setattr(commits_module, "MAX_DEPTH", 6)


def files_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*"))


def kinds(store: DocStore) -> tuple[int, int]:
    """(checkpoints, deltas) among the store's commits."""
    rows = dict(store._db.execute("SELECT delta, COUNT(*) FROM commits GROUP BY delta").fetchall())
    return rows.get(0, 0), rows.get(1, 0)


def test_every_commit_checks_out_exactly_across_checkpoints(tmp_path: Path, short_chains: None) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    doc = store.open()
    rng = random.Random(7)
    expected: dict[str, dict[str, Any]] = {}
    for step in range(80):
        for _ in range(rng.randint(0, 3)):  # some commits change nothing
            edit(doc, rng, step)
        expected[store.commit(f"c{step}")] = content(doc)
    checkpoints, deltas = kinds(store)
    assert checkpoints >= 80 // 7 and deltas >= 60
    for commit_id, version in expected.items():
        assert content(store.checkout(commit_id)) == version, commit_id
    reopened = DocStore(tmp_path / "p.sqlite")
    assert all(content(reopened.checkout(c)) == v for c, v in expected.items())


def test_commits_interleaved_between_two_stores_check_out_exactly(tmp_path: Path, short_chains: None) -> None:
    """Each commit holds the branch as it is: the other store's rows are pulled before it."""
    a, b = DocStore(tmp_path / "p.sqlite"), DocStore(tmp_path / "p.sqlite")
    docs = {"a": a.open(), "b": b.open()}
    stores = {"a": a, "b": b}
    rng = random.Random(3)
    expected: dict[str, dict[str, Any]] = {}
    for step in range(60):
        name = rng.choice("ab")
        edit(docs[name], rng, step)
        if rng.random() < 0.5:
            commit_id = stores[name].commit(f"{name}{step}")
            expected[commit_id] = content(docs[name])
    assert len(a.log()) == len(expected)
    assert all(content(a.checkout(c)) == v for c, v in expected.items())


def test_a_commit_after_the_log_was_compacted_elsewhere_stays_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "COMPACT_AFTER", 20)
    path = tmp_path / "p.sqlite"
    store = DocStore(path)
    doc = store.open()
    rng = random.Random(5)
    expected = {}
    for step in range(30):
        edit(doc, rng, step)
    expected[store.commit("before")] = content(doc)
    for step in range(30, 60):
        edit(doc, rng, step)
    DocStore(path).open()  # another process opens the branch and folds its log into one row
    assert store._db.execute("SELECT COUNT(*) FROM updates").fetchone()[0] == 1
    for step in range(60, 65):
        edit(doc, rng, step)
    expected[store.commit("after")] = content(doc)
    edit(doc, rng, 65)
    expected[store.commit("next")] = content(doc)
    assert all(content(store.checkout(c)) == v for c, v in expected.items())


def test_restore_fork_and_branch_from_a_delta_commit(tmp_path: Path, short_chains: None) -> None:
    home = Home(tmp_path)
    store = home.create("alpha")
    doc = store.open()
    rng = random.Random(11)
    versions = {}
    for step in range(20):
        edit(doc, rng, step)
        versions[store.commit(f"c{step}")] = content(doc)
    target = store.log()[-9].id  # a delta some way down its chain
    assert store._db.execute("SELECT delta FROM commits WHERE id = ?", (target,)).fetchone()[0] == 1

    restored = store.restore(target)
    assert content(doc) == versions[target]
    assert content(store.checkout(restored)) == versions[target]

    fork = home.fork(store, target, "beta")
    assert content(fork.doc) == versions[target]
    assert content(fork.checkout(fork.head() or "")) == versions[target]

    store.branch("side", target)
    side = DocStore(store.path)
    assert content(side.open("side")) == versions[target]
    edit(side.doc, rng, 99)
    on_side = side.commit("on side")
    assert content(side.checkout(on_side)) == content(side.doc)


OLD_SCHEMA = """
CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, branch TEXT NOT NULL, data BLOB NOT NULL, time REAL NOT NULL
);
CREATE INDEX updates_branch ON updates (branch, seq);
CREATE TABLE commits (
    id TEXT PRIMARY KEY, parent TEXT, branch TEXT NOT NULL, author TEXT NOT NULL,
    message TEXT NOT NULL, time REAL NOT NULL, state BLOB NOT NULL
);
CREATE TABLE branches (name TEXT PRIMARY KEY, head TEXT, created REAL NOT NULL);
"""


def old_store(path: Path, snapshots: list[bytes], parents: list[int | None]) -> list[str]:
    """A store as written before deltas: one full snapshot per commit; returns the commit ids."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(OLD_SCHEMA)
    ids = [f"c-old{i}" for i in range(len(snapshots))]
    for i, (state, parent) in enumerate(zip(snapshots, parents, strict=True)):
        db.execute(
            "INSERT INTO commits VALUES (?, ?, 'main', 'ada', ?, ?, ?)",
            (ids[i], None if parent is None else ids[parent], f"old {i}", float(i), state),
        )
    db.execute("INSERT INTO updates (branch, data, time) VALUES ('main', ?, 0)", (snapshots[-1],))
    db.execute("INSERT INTO branches VALUES ('main', ?, 0)", (ids[-1],))
    db.close()
    return ids


def sessions(count: int, edits: int, seed: int) -> list[bytes]:
    """Full snapshots after each edit, made by ``count`` sessions in turn (each a new Yjs client)."""
    rng, snapshots = random.Random(seed), []
    for session in range(count):
        doc = Doc()
        roots(doc)
        if snapshots:
            doc.apply_update(snapshots[-1])
        for step in range(edits):
            edit(doc, rng, session * 1000 + step)
            snapshots.append(doc.get_update())
    return snapshots


def test_a_store_of_full_snapshots_migrates_and_keeps_committing(tmp_path: Path) -> None:
    """A store written before deltas: opened, its snapshots become deltas; new commits build on them."""
    path = tmp_path / "p.sqlite"
    snapshots = sessions(1, 5, seed=2)
    ids = old_store(path, snapshots, [None, 0, 1, 2, 3])
    expected = {commit_id: content_of(state) for commit_id, state in zip(ids, snapshots, strict=True)}

    store = DocStore(path)
    live = store.open()
    assert content(live) == expected[ids[-1]]
    assert [c.message for c in store.log()] == [f"old {i}" for i in reversed(range(5))]
    assert kinds(store) == (2, 3)  # the first snapshot is small: past a chain of 2x its size, a checkpoint
    rng = random.Random(9)
    for step in range(5, 10):
        edit(live, rng, step)
        expected[store.commit(f"new {step}")] = content(live)
    assert kinds(store) == (3, 7)  # the first commit after the migration is a full state
    assert all(content(store.checkout(c)) == v for c, v in expected.items())
    store.restore(ids[1])
    assert content(live) == expected[ids[1]]
    assert content(DocStore(path).open()) == expected[ids[1]]


def test_migrating_a_long_snapshot_history_shrinks_it_and_keeps_every_version(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    snapshots = sessions(4, 40, seed=6)
    parents: list[int | None] = [None, *range(len(snapshots) - 1)]
    # two processes raced: this snapshot lacks its parent's last edit, so no delta can rebuild it
    snapshots.insert(100, snapshots[98])
    parents.insert(100, 99)
    parents[101:] = range(100, len(snapshots) - 1)
    ids = old_store(path, snapshots, parents)
    before = files_size(path)

    store = DocStore(path)
    after = files_size(path)
    assert after < before / 4, (before, after)  # the file itself, given back
    stored = store._db.execute("SELECT SUM(LENGTH(state)) FROM commits").fetchone()[0]
    assert stored < sum(len(state) for state in snapshots) / 20
    assert store._db.execute("SELECT delta FROM commits WHERE id = ?", (ids[100],)).fetchone()[0] == 0
    for commit_id, state in zip(ids, snapshots, strict=True):
        assert content(store.checkout(commit_id)) == content_of(state), commit_id
    assert len(store.log()) == len(snapshots)


def test_history_of_many_small_commits_stays_small(tmp_path: Path) -> None:
    """300 one-edit commits on a 200-node pipeline: far below 300 full snapshots."""
    path = tmp_path / "p.sqlite"
    store = DocStore(path)
    doc = store.open()
    nodes = Map()
    root(doc, "pipelines")["pl"] = Map({"name": "big", "nodes": nodes, "edges": Map()})
    for i in range(200):
        nodes[f"n{i}"] = Map({"name": f"node {i}", "operation": "op", "attributes": Map({"units": "32"}), "x": 0.0})
    store.commit("build")
    rng = random.Random(1)
    for step in range(300):
        nodes[f"n{rng.randrange(200)}"]["x"] = float(step)
        store.commit(f"move {step}")
    full = len(doc.get_update())
    stored = store._db.execute("SELECT SUM(LENGTH(state)) FROM commits").fetchone()[0]
    log = store._db.execute("SELECT SUM(LENGTH(data)) FROM updates").fetchone()[0]
    assert stored < 301 * full / 20  # a full snapshot per commit would be 301 * full
    assert stored < 4 * log
    pages = store._db.execute("PRAGMA page_count").fetchone()[0] * store._db.execute("PRAGMA page_size").fetchone()[0]
    assert pages < 301 * full / 10
