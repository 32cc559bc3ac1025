"""A local-first store for one document: a durable update log plus commits and branches.

Every transaction on the live document is appended to SQLite (synchronous, before the
``with doc.transaction()`` block returns), so a process killed at any moment reopens with
every acknowledged edit. Commits are full snapshots with a parent; branches are named
refs, each with its own live update log.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NewType

from pycrdt import Doc, Subscription, merge_updates

from deepforge_panel.crdt.names import NAME_RULE, name_problem
from deepforge_panel.crdt.schema import ROOTS, make_equal, new_id, roots

CommitId = NewType("CommitId", str)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, branch TEXT NOT NULL, data BLOB NOT NULL, time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_branch ON updates (branch, seq);
CREATE TABLE IF NOT EXISTS commits (
    id TEXT PRIMARY KEY, parent TEXT, branch TEXT NOT NULL, author TEXT NOT NULL,
    message TEXT NOT NULL, time REAL NOT NULL, state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS branches (name TEXT PRIMARY KEY, head TEXT, created REAL NOT NULL);
"""

COMPACT_AFTER = 2000
"""Updates in a branch's log past which opening it folds them into one."""


class StoreError(Exception):
    """A history operation that cannot be done (unknown commit or branch, name taken)."""


@dataclass(frozen=True)
class Commit:
    """One version in the history: a full snapshot with its parent."""

    id: CommitId
    parent: CommitId | None
    branch: str
    author: str
    message: str
    time: float


class DocStore:
    """One document's history in one SQLite file.

    >>> store = DocStore(path); doc = store.open()  # live doc of branch "main"
    >>> doc["meta"]["name"] = "x"                    # appended durably
    >>> store.commit("first", author="ada")
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._doc: Doc | None = None
        self._branch = "main"
        self._applying = False
        self._last_seq = 0
        self._subscription: Subscription | None = None
        self._write_error: Exception | None = None
        self._db.execute(
            "INSERT OR IGNORE INTO branches (name, head, created) VALUES ('main', NULL, ?)", (time.time(),)
        )

    # -- info ------------------------------------------------------------------------
    def get_info(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_info(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO info (key, value) VALUES (?, ?)", (key, value))

    # -- the live document ----------------------------------------------------------------
    @property
    def branch_name(self) -> str:
        return self._branch

    @property
    def doc(self) -> Doc:
        if self._doc is None:
            raise StoreError(f"{self.path}: no branch is open; call open() first")
        return self._doc

    def open(self, branch: str = "main") -> Doc:
        """The live document of ``branch``: its log replayed, then every new edit appended."""
        if not self._branch_exists(branch):
            raise StoreError(f"no branch {branch!r} in {self.path} (branches: {', '.join(self.branches())})")
        self._detach()
        self._branch = branch
        self._compact(branch)
        doc: Doc = Doc()
        roots(doc)
        self._doc = doc
        self._last_seq = 0
        self.pull()
        self._subscription = doc.observe(self._append)
        return doc

    def pull(self) -> int:
        """Apply updates other processes appended to this branch since the last pull."""
        rows = self._db.execute(
            "SELECT seq, data FROM updates WHERE branch = ? AND seq > ? ORDER BY seq",
            (self._branch, self._last_seq),
        ).fetchall()
        if not rows:
            return 0
        self._applying = True
        try:
            self.doc.apply_update(merge_updates(*[bytes(data) for _, data in rows]))
        finally:
            self._applying = False
        self._last_seq = rows[-1][0]
        return len(rows)

    def _append(self, event) -> None:
        if self._applying:
            return
        update = event.update
        if update == b"\x00\x00":
            return
        try:
            with self._lock:
                cur = self._db.execute(
                    "INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)",
                    (self._branch, update, time.time()),
                )
                self._last_seq = max(self._last_seq, cur.lastrowid or 0)
        except sqlite3.Error as exc:  # surfaced on the next flush() rather than lost in an observer
            self._write_error = exc

    def flush(self) -> None:
        """Raise if an update could not be written (disk full, read-only file)."""
        if self._write_error is not None:
            error, self._write_error = self._write_error, None
            raise StoreError(f"could not persist an edit to {self.path}: {error}") from error

    def _compact(self, branch: str) -> None:
        with self._lock:
            rows = self._db.execute("SELECT seq, data FROM updates WHERE branch = ? ORDER BY seq", (branch,)).fetchall()
            if len(rows) <= COMPACT_AFTER:
                return
            merged = merge_updates(*[bytes(data) for _, data in rows])
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM updates WHERE branch = ? AND seq <= ?", (branch, rows[-1][0]))
                self._db.execute(
                    "INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)", (branch, merged, time.time())
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _detach(self) -> None:
        if self._doc is not None and self._subscription is not None:
            self._doc.unobserve(self._subscription)
        self._subscription = None

    def close(self) -> None:
        self._detach()
        self._db.close()

    # -- history -------------------------------------------------------------------------
    def commit(self, message: str, author: str = "anonymous") -> CommitId:
        """Snapshot the live document as a new commit on the open branch."""
        self.flush()
        state = self.doc.get_update()
        commit_id = CommitId(new_id("c"))
        head = self.head(self._branch)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO commits (id, parent, branch, author, message, time, state) VALUES (?,?,?,?,?,?,?)",
                    (commit_id, head, self._branch, author, message, time.time(), state),
                )
                self._db.execute("UPDATE branches SET head = ? WHERE name = ?", (commit_id, self._branch))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return commit_id

    def head(self, branch: str | None = None) -> CommitId | None:
        row = self._db.execute("SELECT head FROM branches WHERE name = ?", (branch or self._branch,)).fetchone()
        if row is None:
            raise StoreError(f"no branch {branch!r} in {self.path}")
        return row[0]

    def get_commit(self, commit_id: str) -> Commit:
        row = self._db.execute(
            "SELECT id, parent, branch, author, message, time FROM commits WHERE id = ?", (commit_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no commit {commit_id!r} in {self.path}")
        return Commit(*row)

    def log(self, branch: str | None = None) -> list[Commit]:
        """Commits reachable from a branch's head, newest first."""
        commits: list[Commit] = []
        cursor = self.head(branch)
        while cursor is not None:
            commit = self.get_commit(cursor)
            commits.append(commit)
            cursor = commit.parent
        return commits

    def state(self, commit_id: str) -> bytes:
        row = self._db.execute("SELECT state FROM commits WHERE id = ?", (commit_id,)).fetchone()
        if row is None:
            raise StoreError(f"no commit {commit_id!r} in {self.path}")
        return bytes(row[0])

    def checkout(self, commit_id: str) -> Doc:
        """A detached copy of the document as it was at ``commit_id`` (edits go nowhere)."""
        doc: Doc = Doc()
        roots(doc)
        doc.apply_update(self.state(commit_id))
        return doc

    def restore(self, commit_id: str, author: str = "anonymous") -> CommitId:
        """Make the live document equal to ``commit_id``'s version, recorded as a new commit."""
        old = self.checkout(commit_id)
        live = self.doc
        with live.transaction(origin="restore"):
            for name in ROOTS:
                make_equal(live.get(name, type=type(old[name])), old[name])
        return self.commit(f"Restore {commit_id}", author=author)

    # -- branches --------------------------------------------------------------------------
    def branches(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT name FROM branches ORDER BY created")]

    def _branch_exists(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM branches WHERE name = ?", (name,)).fetchone() is not None

    def branch(self, name: str, commit_id: str | None = None) -> None:
        """Create branch ``name`` starting at ``commit_id`` (default: the open branch's head)."""
        if (problem := name_problem(name)) is not None:
            raise StoreError(f"branch name {name!r} is not allowed: {problem} ({NAME_RULE})")
        if self._branch_exists(name):
            raise StoreError(f"branch {name!r} already exists in {self.path}")
        start = commit_id or self.head()
        if start is None:
            raise StoreError("commit before branching: the open branch has no commit yet")
        state = self.state(start)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO branches (name, head, created) VALUES (?, ?, ?)", (name, start, time.time())
                )
                self._db.execute(
                    "INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)", (name, state, time.time())
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def seed_from(
        self, state: bytes, message: str, author: str, on_open: Callable[[Doc], None] | None = None
    ) -> CommitId:
        """Start an empty store from a snapshot (used by fork): open it, apply, commit."""
        doc = self.open("main")
        doc.apply_update(state)
        if on_open is not None:
            on_open(doc)
        return self.commit(message, author=author)
