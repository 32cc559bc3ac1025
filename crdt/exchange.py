"""History between peers: commits travel as they are stored, branch heads move only forward.

Commits never change once made and their ids are random, so two stores reconcile their histories
by exchanging the commits one lacks (a set union), parents first. A commit travels as its store
keeps it: a checkpoint (a full state) or a delta on top of its parent; deltas are exact on any
store that holds the parent, because a parent's state is the same everywhere. The receiver keeps
its own chains short: a delta that would make a chain too long is stored as a checkpoint.

A branch's head moves to a peer's head only when that is a descendant of its own (a fast-forward).
When both sides committed, each keeps its head and the other's commit is a *divergent tip* of the
branch (:func:`tips`): shown as such, restorable, and taken in as a second parent (``merged``) by
the next commit on that branch, whose state (the live documents are merged continuously) holds both.
"""

from __future__ import annotations

import heapq
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deepforge_panel.crdt import commits

MERGED_COLUMN = "merged TEXT NOT NULL DEFAULT ''"
"""Ids of a commit's other parents, space-separated ('' for a commit with one parent)."""


class ExchangeError(ValueError):
    """Commits or branches from a peer that cannot be taken in (a parent nobody sent, a malformed record)."""


@dataclass(frozen=True)
class CommitRecord:
    """One commit as it travels: its metadata, and its state as stored (a delta on ``parent``, or a full state)."""

    id: str
    parent: str | None
    merged: tuple[str, ...]
    branch: str
    author: str
    message: str
    time: float
    delta: bool
    state: bytes


def migrate(db: sqlite3.Connection) -> None:
    """Add the ``merged`` column to a store written before peers."""
    present = {row[1] for row in db.execute("PRAGMA table_info(commits)")}
    if "merged" not in present:
        try:
            db.execute(f"ALTER TABLE commits ADD COLUMN {MERGED_COLUMN}")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def graph(db: sqlite3.Connection) -> dict[str, tuple[str | None, tuple[str, ...], str]]:
    """Every commit: id -> (parent, merged parents, branch)."""
    return {
        row[0]: (row[1], tuple(row[2].split()), row[3])
        for row in db.execute("SELECT id, parent, merged, branch FROM commits")
    }


def tips(db: sqlite3.Connection, branch: str) -> list[str]:
    """Commits of ``branch`` that no commit of ``branch`` builds on, newest first: one unless peers diverged."""
    commits_ = graph(db)
    built_on = {
        parent
        for parent_, merged, on in commits_.values()
        if on == branch
        for parent in (parent_, *merged)
        if parent is not None
    }
    found = [cid for cid, (_, _, on) in commits_.items() if on == branch and cid not in built_on]
    times = dict(db.execute("SELECT id, time FROM commits WHERE branch = ?", (branch,)).fetchall())
    return sorted(found, key=lambda cid: times[cid], reverse=True)


def newest_first(commits: Mapping[str, Any], heads: list[str]) -> list[Any]:
    """The commits reachable from ``heads`` in ``commits`` (id -> an object with ``parent``, ``merged`` and
    ``time``), each after every commit built on it and otherwise newest first."""
    reachable: dict[str, Any] = {}
    stack = [h for h in heads if h in commits]
    while stack:
        cursor = stack.pop()
        if cursor in reachable:
            continue
        reachable[cursor] = commit = commits[cursor]
        stack.extend(p for p in (commit.parent, *commit.merged) if p is not None and p in commits)
    children = dict.fromkeys(reachable, 0)
    for commit in reachable.values():
        for parent in {commit.parent, *commit.merged}:
            if parent in children:
                children[parent] += 1
    ready = [(-reachable[c].time, c) for c, n in children.items() if n == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, cursor = heapq.heappop(ready)
        commit = reachable[cursor]
        ordered.append(commit)
        for parent in {commit.parent, *commit.merged}:
            if parent in children:
                children[parent] -= 1
                if children[parent] == 0:
                    heapq.heappush(ready, (-reachable[parent].time, parent))
    return ordered


def ancestors(db: sqlite3.Connection, commit_id: str) -> set[str]:
    """``commit_id`` and every commit it builds on (parents and merged parents)."""
    commits_ = graph(db)
    seen: set[str] = set()
    stack = [commit_id]
    while stack:
        cursor = stack.pop()
        if cursor in seen or cursor not in commits_:
            continue
        seen.add(cursor)
        parent, merged, _ = commits_[cursor]
        stack.extend(p for p in (parent, *merged) if p is not None)
    return seen


def export(db: sqlite3.Connection, ids: Iterable[str] | None = None) -> list[CommitRecord]:
    """The commits ``ids`` (default: all) as they travel, parents before children."""
    rows = db.execute(
        "SELECT id, parent, merged, branch, author, message, time, delta, state FROM commits ORDER BY rowid"
    ).fetchall()
    wanted = None if ids is None else set(ids)
    records = [
        CommitRecord(r[0], r[1], tuple(r[2].split()), r[3], r[4], r[5], r[6], bool(r[7]), bytes(r[8]))
        for r in rows
        if wanted is None or r[0] in wanted
    ]
    return _parents_first(records, known=set())


def _parents_first(records: list[CommitRecord], known: set[str]) -> list[CommitRecord]:
    """``records`` ordered so that each comes after the parents it needs among them; the rest keep their order."""
    by_id = {r.id: r for r in records}
    placed: set[str] = set()
    ordered: list[CommitRecord] = []

    def place(record: CommitRecord, trail: frozenset[str]) -> None:
        if record.id in placed:
            return
        if record.id in trail:
            raise ExchangeError(f"commit {record.id} is its own ancestor")
        for parent in (record.parent, *record.merged):
            if parent is not None and parent in by_id and parent not in known:
                place(by_id[parent], trail | {record.id})
        placed.add(record.id)
        ordered.append(record)

    for record in records:
        place(record, frozenset())
    return ordered


def take(db: sqlite3.Connection, records: list[CommitRecord]) -> list[str]:
    """Store the commits of ``records`` this store lacks, in one write transaction; their ids, parents first.

    Called with the write lock held. A commit whose parent is neither here nor among ``records``
    is refused (:class:`ExchangeError`) and nothing is stored.
    """
    known = {row[0] for row in db.execute("SELECT id FROM commits")}
    new = _parents_first([r for r in records if r.id not in known], known)
    taken: list[str] = []
    for record in new:
        for parent in (record.parent, *record.merged):
            if parent is not None and parent not in known:
                raise ExchangeError(f"commit {record.id} builds on {parent}, which this store lacks and was not sent")
        state, delta, depth, chain, base = _placed(db, record)
        db.execute(
            "INSERT INTO commits (id, parent, branch, author, message, time, state, delta, upto, depth, chain, base,"
            " merged) VALUES (?,?,?,?,?,?,?,?,NULL,?,?,?,?)",
            (
                record.id,
                record.parent,
                record.branch,
                record.author,
                record.message,
                record.time,
                state,
                int(delta),
                depth,
                chain,
                base,
                " ".join(record.merged),
            ),
        )
        known.add(record.id)
        taken.append(record.id)
    return taken


def _placed(db: sqlite3.Connection, record: CommitRecord) -> tuple[bytes, bool, int, int, int]:
    """How ``record`` is stored here: (state, delta, depth, chain, base) within this store's chain budget."""
    if not record.delta:
        return record.state, False, 0, 0, len(record.state)
    if record.parent is None:
        raise ExchangeError(f"commit {record.id} is a delta with no parent")
    depth, chain, base = db.execute("SELECT depth, chain, base FROM commits WHERE id = ?", (record.parent,)).fetchone()
    if depth < commits.MAX_DEPTH and chain + len(record.state) <= commits.CHAIN_RATIO * base:
        return record.state, True, depth + 1, chain + len(record.state), base
    steps = commits.chain(db, record.parent)
    assert steps is not None, "the parent was checked above"
    try:
        full = commits.rebuild([*steps, record.state]).get_update()
    except (ValueError, RuntimeError) as exc:
        raise ExchangeError(f"commit {record.id}: its delta does not apply to {record.parent}: {exc}") from None
    return full, False, 0, 0, len(full)


def forward(db: sqlite3.Connection, heads: dict[str, str]) -> dict[str, str]:
    """Move each branch of ``heads`` (name -> a peer's head, a commit this store holds) forward where that
    is a fast-forward, and create the branches this store lacks; returns the branches created or moved.

    Called with the write lock held. A created branch's live log starts from its head's state.
    """
    moved: dict[str, str] = {}
    for name, head in heads.items():
        if db.execute("SELECT 1 FROM commits WHERE id = ?", (head,)).fetchone() is None:
            raise ExchangeError(f"branch {name!r}: its head {head} was not sent")
        row = db.execute("SELECT head FROM branches WHERE name = ?", (name,)).fetchone()
        if row is None:
            steps = commits.chain(db, head)
            assert steps is not None
            state = commits.rebuild(steps).get_update()
            db.execute("INSERT INTO branches (name, head, created) VALUES (?, ?, ?)", (name, head, time.time()))
            db.execute("INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)", (name, state, time.time()))
            moved[name] = head
        elif row[0] != head and (row[0] is None or row[0] in ancestors(db, head)):
            db.execute("UPDATE branches SET head = ? WHERE name = ?", (head, name))
            moved[name] = head
    return moved
