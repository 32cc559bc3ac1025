"""A local-first store for one document: a durable update log plus commits and branches.

Every transaction on the live document is appended to SQLite (synchronous, before the
``with doc.transaction()`` block returns), so a process killed at any moment reopens with
every acknowledged edit. Any number of processes share one file: each applies every row the
others append exactly once (``pull``), and commits move a branch's head under SQLite's write
lock. Commits are what changed since their parent, with full checkpoints (``commits.py``);
branches are named refs, each with its own live update log.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NewType

from pycrdt import Doc, Subscription, TransactionEvent

from deepforge_panel.crdt import commits, exchange
from deepforge_panel.crdt.names import NAME_RULE, name_problem
from deepforge_panel.crdt.schema import ROOTS, make_equal, new_id, roots

CommitId = NewType("CommitId", str)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, branch TEXT NOT NULL, data BLOB NOT NULL, time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_branch ON updates (branch, seq);
CREATE TABLE IF NOT EXISTS branches (name TEXT PRIMARY KEY, head TEXT, created REAL NOT NULL);
"""

_COMMIT_ATTEMPTS = 3
"""Pulls a commit tries to catch up with other processes' rows before it stores a full checkpoint."""

COMPACT_AFTER = 2000
"""Updates in a branch's log past which opening it folds them into one (the document's state)."""


class StoreError(Exception):
    """A history operation that cannot be done (unknown commit or branch, name taken)."""


@dataclass(frozen=True)
class Commit:
    """One version in the history, with its parent."""

    id: CommitId
    parent: CommitId | None
    branch: str
    author: str
    message: str
    time: float
    merged: tuple[str, ...] = ()
    """Other parents: the divergent tips of the branch (peers committed concurrently) this commit took in."""


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
        self._db.executescript(_SCHEMA + commits.SCHEMA)
        commits.migrate(self._db)
        exchange.migrate(self._db)
        self._lock = threading.RLock()
        self._doc: Doc | None = None
        self._branch = "main"
        self._applying = False
        self._last_seq = 0
        """Every row of the branch up to this one is in the live document."""
        self._own: set[int] = set()
        """Rows past ``_last_seq`` this store appended itself: in the document already, never pulled."""
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

    @property
    def site(self) -> str:
        """A random id of this store file, made once: what ran here (an execution's runner) is this site's to
        settle; a peer's copy of the document is another site, even on the same machine."""
        site = self.get_info("site")
        if not site:
            site = new_id("s")
            self._db.execute("INSERT OR IGNORE INTO info (key, value) VALUES ('site', ?)", (site,))
            site = self.get_info("site") or site
        return site

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
        doc: Doc = Doc()
        roots(doc)
        self._doc = doc
        self._last_seq = 0
        self._own = set()
        if self.pull() > COMPACT_AFTER:
            self._compact()
        self._subscription = doc.observe(self._append)
        return doc

    def pull(self) -> int:
        """Apply the rows other processes appended to this branch since the last pull; how many.

        Inside an open transaction (an edit in progress, an observer) it applies nothing and
        returns 0: the rows would join that transaction, be appended again as this store's own,
        and clash with its origin. The next pull (the server's next tick) applies them.
        """
        doc = self.doc
        if _in_transaction(doc):
            return 0
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, data FROM updates WHERE branch = ? AND seq > ? ORDER BY seq",
                (self._branch, self._last_seq),
            ).fetchall()
            if not rows:
                return 0
            foreign = [bytes(data) for seq, data in rows if seq not in self._own]
            if foreign:
                self._applying = True
                try:
                    with doc.transaction():
                        for update in foreign:
                            doc.apply_update(update)
                finally:
                    self._applying = False
            self._last_seq = rows[-1][0]
            self._own.clear()
        return len(foreign)

    def _append(self, event: TransactionEvent) -> None:
        if self._applying:
            return
        update = event.update
        if update == commits.EMPTY_UPDATE:
            return
        try:
            with self._lock:
                seq = self._db.execute(
                    "INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)",
                    (self._branch, update, time.time()),
                ).lastrowid
                assert seq is not None
                self._mark_own(seq)
        except sqlite3.Error as exc:  # surfaced on the next flush() rather than lost in an observer
            self._write_error = exc

    def _mark_own(self, seq: int) -> None:
        """Row ``seq`` was appended by this store: the next pull skips it, never the rows before it."""
        between = self._db.execute(  # rows before ours are committed, so all visible here
            "SELECT seq FROM updates WHERE branch = ? AND seq > ? AND seq < ?", (self._branch, self._last_seq, seq)
        ).fetchall()
        if all(row[0] in self._own for row in between):
            self._last_seq = seq
            self._own.clear()
        else:  # another process's rows came first: the next pull applies them, skipping ours
            self._own.add(seq)

    def _behind(self) -> bool:
        """Whether rows of another process wait to be pulled."""
        rows = self._db.execute(
            "SELECT seq FROM updates WHERE branch = ? AND seq > ?", (self._branch, self._last_seq)
        ).fetchall()
        return any(row[0] not in self._own for row in rows)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One SQLite write transaction, begun with the write lock held: reads in it see the latest rows."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def flush(self) -> None:
        """Raise if an update could not be written (disk full, read-only file)."""
        if self._write_error is not None:
            error, self._write_error = self._write_error, None
            raise StoreError(f"could not persist an edit to {self.path}: {error}") from error

    def _compact(self) -> None:
        """Fold the log just replayed into one row holding the document's state.

        A store open elsewhere applies that row again: harmless, a Yjs update applies idempotently.
        """
        with self._write() as db:
            db.execute("DELETE FROM updates WHERE branch = ? AND seq <= ?", (self._branch, self._last_seq))
            seq = db.execute(
                "INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)",
                (self._branch, self.doc.get_update(), time.time()),
            ).lastrowid
            assert seq is not None
            self._mark_own(seq)

    def _detach(self) -> None:
        if self._doc is not None and self._subscription is not None:
            self._doc.unobserve(self._subscription)
        self._subscription = None

    def close(self) -> None:
        self._detach()
        self._db.close()

    # -- history -------------------------------------------------------------------------
    def commit(self, message: str, author: str = "anonymous") -> CommitId:
        """Record the open branch as a new commit on top of its head.

        The branch's rows other processes appended are pulled first, so the commit holds the
        branch as it is, and its parent (read under the write lock) holds no edit it lacks.
        """
        self.flush()
        commit_id = CommitId(new_id("c"))
        for attempt in range(_COMMIT_ATTEMPTS):
            self.pull()
            with self._write() as db:
                behind = self._behind()
                if behind and attempt < _COMMIT_ATTEMPTS - 1:
                    continue  # a row arrived between the pull and the lock: pull again
                head = db.execute("SELECT head FROM branches WHERE name = ?", (self._branch,)).fetchone()[0]
                merged = " ".join(tip for tip in exchange.tips(db, self._branch) if tip != head)
                last = db.execute("SELECT MAX(seq) FROM updates WHERE branch = ?", (self._branch,)).fetchone()[0]
                upto = self._last_seq if behind else max(last or 0, self._last_seq)
                stored = commits.encode(db, head, self._branch, upto, self.doc.get_update, checkpoint=behind)
                db.execute(
                    "INSERT INTO commits (id, parent, branch, author, message, time, state, delta, upto, depth,"
                    " chain, base, merged) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        commit_id,
                        head,
                        self._branch,
                        author,
                        message,
                        time.time(),
                        stored.state,
                        int(stored.delta),
                        stored.upto,
                        stored.depth,
                        stored.chain,
                        stored.base,
                        merged,
                    ),
                )
                db.execute("UPDATE branches SET head = ? WHERE name = ?", (commit_id, self._branch))
                return commit_id
        raise AssertionError("unreachable: the last attempt always commits")

    def head(self, branch: str | None = None) -> CommitId | None:
        row = self._db.execute("SELECT head FROM branches WHERE name = ?", (branch or self._branch,)).fetchone()
        if row is None:
            raise StoreError(f"no branch {branch!r} in {self.path}")
        return row[0]

    def get_commit(self, commit_id: str) -> Commit:
        row = self._db.execute(
            "SELECT id, parent, branch, author, message, time, merged FROM commits WHERE id = ?", (commit_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no commit {commit_id!r} in {self.path}")
        return _commit(row)

    def log(self, branch: str | None = None) -> list[Commit]:
        """Commits reachable from a branch's head (through merged parents too), newest first: every commit
        after all the commits built on it, the newer of two first (clocks of peers may disagree)."""
        head = self.head(branch)
        if head is None:
            return []
        return exchange.newest_first(self._all_commits(), [head])

    def _all_commits(self) -> dict[str, Commit]:
        rows = self._db.execute("SELECT id, parent, branch, author, message, time, merged FROM commits").fetchall()
        return {row[0]: _commit(row) for row in rows}

    def state(self, commit_id: str) -> bytes:
        """The full state of the document at ``commit_id`` (what a fork or a branch starts from)."""
        return self.checkout(commit_id).get_update()

    def checkout(self, commit_id: str) -> Doc:
        """A detached copy of the document as it was at ``commit_id`` (edits go nowhere)."""
        updates = commits.chain(self._db, commit_id)
        if updates is None:
            raise StoreError(f"no commit {commit_id!r} in {self.path}")
        return commits.rebuild(updates)

    def restore(self, commit_id: str, author: str = "anonymous") -> CommitId:
        """Make the live document's design equal to ``commit_id``'s version, recorded as a new commit.

        Records roots (what ran, what it made) stay exactly as they are: restoring is about the design.
        """
        old = self.checkout(commit_id)
        live = self.doc
        with live.transaction(origin="restore"):
            for name in ROOTS.design:
                make_equal(live.get(name, type=type(old[name])), old[name])
        return self.commit(f"Restore {commit_id}", author=author)

    def tips(self, branch: str | None = None) -> list[CommitId]:
        """The branch's commits nothing on it builds on, newest first: its head, plus any a peer made
        concurrently (divergent heads, as git shows two branches); each can be restored."""
        return [CommitId(c) for c in exchange.tips(self._db, branch or self._branch)]

    # -- exchange with peers -------------------------------------------------------------------
    def history(self) -> tuple[list[Commit], dict[str, CommitId | None]]:
        """Every commit (any branch, oldest first) and every branch's head: what a peer compares with its own."""
        rows = self._db.execute(
            "SELECT id, parent, branch, author, message, time, merged FROM commits ORDER BY rowid"
        ).fetchall()
        heads = dict(self._db.execute("SELECT name, head FROM branches ORDER BY created").fetchall())
        return [_commit(row) for row in rows], heads

    def history_tag(self) -> str:
        """Changes whenever :meth:`history` would: a cheap tag for a peer polling it."""
        count, last = self._db.execute("SELECT COUNT(*), MAX(rowid) FROM commits").fetchone()
        heads = self._db.execute("SELECT name, head FROM branches ORDER BY name").fetchall()
        return f"{count}-{last}-{zlib.crc32(repr(heads).encode()):08x}"

    def export_commits(self, ids: Sequence[str] | None = None) -> list[exchange.CommitRecord]:
        """Commits as they travel to a peer (default: all), parents first."""
        return exchange.export(self._db, ids)

    def take_history(
        self, records: list[exchange.CommitRecord], heads: dict[str, str]
    ) -> tuple[list[CommitId], dict[str, CommitId]]:
        """Store a peer's commits this store lacks and move branches forward to its heads (creating branches
        it lacks), in one write transaction; returns the commits taken and the branches moved.

        Raises :class:`exchange.ExchangeError`, storing nothing, for commits whose parents are missing.
        """
        with self._write() as db:
            taken = exchange.take(db, records)
            moved = exchange.forward(db, {name: head for name, head in heads.items() if head})
        return [CommitId(c) for c in taken], {name: CommitId(head) for name, head in moved.items()}

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
        with self._write() as db:
            if self._branch_exists(name):  # again under the write lock: another process may have just made it
                raise StoreError(f"branch {name!r} already exists in {self.path}")
            db.execute("INSERT INTO branches (name, head, created) VALUES (?, ?, ?)", (name, start, time.time()))
            db.execute("INSERT INTO updates (branch, data, time) VALUES (?, ?, ?)", (name, state, time.time()))

    def merged(self, source: str) -> Doc:
        """A detached copy of the open branch with branch ``source``'s head merged in: what :meth:`merge` makes."""
        doc: Doc = Doc()
        roots(doc)
        doc.apply_update(self.doc.get_update())
        doc.apply_update(self.state(self._mergeable_head(source)))
        return doc

    def merge(self, source: str, author: str = "anonymous") -> CommitId:
        """Merge branch ``source``'s head into the open branch, committed as "Merge <source> into <branch>".

        A CRDT merge: the head's state is applied to the live document as an update, in one
        transaction, so edits made on both branches since they parted all survive (where both set
        the same value, one wins, the same on every peer). Merging again later brings only what is
        new. The update carries the whole document, so what ran on ``source`` (its records) comes along.
        """
        state = self.state(self._mergeable_head(source))
        self.pull()
        with self.doc.transaction(origin="merge"):
            self.doc.apply_update(state)
        return self.commit(f"Merge {source} into {self._branch}", author=author)

    def _mergeable_head(self, source: str) -> CommitId:
        if source == self._branch:
            raise StoreError(f"cannot merge branch {source!r} into itself")
        head = self.head(source)
        if head is None:
            raise StoreError(f"branch {source!r} has no commit to merge yet")
        return head

    def seed_from(
        self, state: bytes, message: str, author: str, on_open: Callable[[Doc], None] | None = None
    ) -> CommitId:
        """Start an empty store from a snapshot (used by fork): open it, apply, commit."""
        doc = self.open("main")
        doc.apply_update(state)
        if on_open is not None:
            on_open(doc)
        return self.commit(message, author=author)


def _commit(row: tuple[Any, ...]) -> Commit:
    """A :class:`Commit` from ``id, parent, branch, author, message, time, merged`` columns."""
    return Commit(row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6].split()))


def _in_transaction(doc: Doc) -> bool:
    """Whether a transaction is open on ``doc`` (pycrdt has no public query for it)."""
    return getattr(doc, "_txn", None) is not None
