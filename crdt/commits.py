"""How commits are kept: each one the updates since its parent, with a full checkpoint now and then.

A full snapshot per commit made history grow with commits x document size (issue 8.7). A commit
stores the branch's log rows appended since its parent commit, merged: what changed. When the
deltas since the last checkpoint add up to more than ``CHAIN_RATIO`` times that checkpoint (or
``MAX_DEPTH`` of them), the commit stores the full state instead, so rebuilding any commit applies
one checkpoint and at most about ``CHAIN_RATIO`` checkpoints' worth of deltas.

A store written before this scheme (a full state per commit) is migrated when first opened:
each commit becomes its difference from its parent wherever that rebuilds it exactly.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from pycrdt import Doc, merge_updates

from deepforge_panel.crdt import updates
from deepforge_panel.crdt.schema import roots

CHAIN_RATIO = 2.0
"""Delta bytes since the last checkpoint, relative to its size, past which a commit is a checkpoint."""

MAX_DEPTH = 5000
"""Deltas in a row past which a commit is a checkpoint whatever their size (bounds a rebuild's steps)."""

EMPTY_UPDATE = b"\x00\x00"

COLUMNS = {
    "delta": "INTEGER NOT NULL DEFAULT 0",  # 1: ``state`` is the update since ``parent``; 0: a full state
    "upto": "INTEGER",  # the branch's log rows (seq <= upto) this version holds; NULL before this scheme
    "depth": "INTEGER NOT NULL DEFAULT 0",  # deltas since the checkpoint, this one included
    "chain": "INTEGER NOT NULL DEFAULT 0",  # their bytes
    "base": "INTEGER NOT NULL DEFAULT 0",  # the checkpoint's bytes
}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS commits (
    id TEXT PRIMARY KEY, parent TEXT, branch TEXT NOT NULL, author TEXT NOT NULL,
    message TEXT NOT NULL, time REAL NOT NULL, state BLOB NOT NULL,
    {", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())}
);
"""


def migrate(db: sqlite3.Connection) -> None:
    """Bring a store written before this scheme to it: add the columns, turn its snapshots into deltas."""
    if not _missing(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        missing = _missing(db)  # again under the write lock: another process may have just done it
        for name in missing:
            db.execute(f"ALTER TABLE commits ADD COLUMN {name} {COLUMNS[name]}")
        packed = _repack(db) if missing else 0
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if packed:
        with contextlib.suppress(sqlite3.OperationalError):  # giving the space back is best effort
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _missing(db: sqlite3.Connection) -> list[str]:
    present = {row[1] for row in db.execute("PRAGMA table_info(commits)")}
    return [name for name in COLUMNS if name not in present]


def _repack(db: sqlite3.Connection) -> int:
    """Store each full-snapshot commit as its difference from its parent where that is exact; how many.

    A snapshot that does not contain its parent's (two processes raced to commit) stays a checkpoint.
    Each snapshot is loaded once, parents first; a summary is kept until its last child is done.
    """
    parents = {row[0]: row[1] for row in db.execute("SELECT id, parent FROM commits WHERE delta = 0 AND upto IS NULL")}
    children: dict[str, int] = {}
    for parent in parents.values():
        if parent is not None:
            children[parent] = children.get(parent, 0) + 1
    generations = _generations(parents)
    summaries: dict[str, updates.Summary] = {}
    placed: dict[str, tuple[int, int, int]] = {}  # id -> (depth, chain, base)
    for commit_id in sorted(parents, key=generations.__getitem__):
        parent = parents[commit_id]
        state = bytes(db.execute("SELECT state FROM commits WHERE id = ?", (commit_id,)).fetchone()[0])
        doc: Doc = Doc()
        doc.apply_update(state)
        summary = updates.summarize(doc)
        if children.get(commit_id):
            summaries[commit_id] = summary
        delta = None
        if parent is not None and parent in summaries:
            delta = updates.diff(doc, summary, summaries[parent])
            children[parent] -= 1
            if not children[parent]:
                del summaries[parent]
        if delta is not None and parent in placed:
            depth, chain, base = placed[parent]
            if depth < MAX_DEPTH and chain + len(delta) <= CHAIN_RATIO * base:
                placed[commit_id] = (depth + 1, chain + len(delta), base)
                db.execute(
                    "UPDATE commits SET state = ?, delta = 1, depth = ?, chain = ?, base = ? WHERE id = ?",
                    (delta, *placed[commit_id], commit_id),
                )
                continue
        placed[commit_id] = (0, 0, len(state))
        db.execute("UPDATE commits SET base = ? WHERE id = ?", (len(state), commit_id))
    return sum(1 for depth, _, _ in placed.values() if depth)


def _generations(parents: dict[str, str | None]) -> dict[str, int]:
    """How many ancestors each commit has among ``parents`` (its place in a parents-first order)."""
    known: dict[str, int] = {}
    for commit_id in parents:
        path: list[str] = []
        cursor: str | None = commit_id
        while cursor is not None and cursor in parents and cursor not in known:
            path.append(cursor)
            cursor = parents[cursor]
        count = known[cursor] + 1 if cursor is not None and cursor in known else 0
        for step in reversed(path):
            known[step] = count
            count += 1
    return known


@dataclass(frozen=True)
class Stored:
    """What a new commit row holds and where it sits in its chain."""

    state: bytes
    delta: bool
    upto: int
    depth: int
    chain: int
    base: int


def encode(
    db: sqlite3.Connection,
    parent: str | None,
    branch: str,
    upto: int,
    full_state: Callable[[], bytes],
    checkpoint: bool = False,
) -> Stored:
    """The row for a commit of ``branch`` holding its log rows up to ``upto``, on top of ``parent``.

    Called inside the write transaction that inserts the commit, by a store whose document holds
    exactly the branch's rows up to ``upto`` (``checkpoint=True`` where that is not known).
    """
    link = None
    if parent is not None and not checkpoint:
        link = db.execute("SELECT branch, upto, depth, chain, base FROM commits WHERE id = ?", (parent,)).fetchone()
    if link is not None:
        parent_branch, parent_upto, depth, chain, base = link
        budget = CHAIN_RATIO * base - chain
        if parent_branch == branch and parent_upto is not None and depth < MAX_DEPTH and budget > 0:
            rows = db.execute(
                "SELECT data FROM updates WHERE branch = ? AND seq > ? AND seq <= ? ORDER BY seq",
                (branch, parent_upto, upto),
            ).fetchall()
            if sum(len(row[0]) for row in rows) <= budget:
                delta = merge_updates(*[bytes(row[0]) for row in rows]) if rows else EMPTY_UPDATE
                return Stored(delta, True, upto, depth + 1, chain + len(delta), base)
    state = full_state()
    return Stored(state, False, upto, 0, 0, len(state))


def chain(db: sqlite3.Connection, commit_id: str) -> list[bytes] | None:
    """The updates that rebuild ``commit_id``: its checkpoint first, then each delta; None if unknown."""
    rows = db.execute(
        """
        WITH RECURSIVE walk(id, parent, delta, state, n) AS (
            SELECT id, parent, delta, state, 0 FROM commits WHERE id = ?
            UNION ALL
            SELECT c.id, c.parent, c.delta, c.state, walk.n + 1
            FROM commits AS c JOIN walk ON c.id = walk.parent WHERE walk.delta = 1
        )
        SELECT delta, state FROM walk ORDER BY n DESC
        """,
        (commit_id,),
    ).fetchall()
    if not rows:
        return None
    if rows[0][0]:
        raise sqlite3.DatabaseError(f"commit {commit_id!r}: its chain of deltas reaches no checkpoint")
    return [bytes(row[1]) for row in rows]


def rebuild(steps: list[bytes]) -> Doc:
    """A document from a checkpoint and its deltas, applied in order in one transaction."""
    doc: Doc = Doc()
    roots(doc)
    with doc.transaction():
        for update in steps:
            doc.apply_update(update)
    return doc
