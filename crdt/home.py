"""A home folder holding many documents' stores, found by name."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deepforge_panel.crdt.schema import new_id
from deepforge_panel.crdt.store import DocStore, StoreError

HOME_ENV = "DEEPFORGE_PANEL_HOME"
DEFAULT_HOME = Path("~/.deepforge-panel")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")


def _check_name(name: str) -> None:
    """Project names appear in lists, links and command lines: a short, plain alphabet."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise StoreError(f"invalid project name {name!r}: use 1-64 letters, digits, spaces, '.', '_' or '-'")


def default_home() -> Path:
    """``$DEEPFORGE_PANEL_HOME`` if set, else ``~/.deepforge-panel``."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


@dataclass(frozen=True)
class Entry:
    """One project in a home: its id, name, store file and last change."""

    id: str
    name: str
    path: Path
    modified: float


class Home:
    """The projects under one folder, each a :class:`DocStore` file ``projects/<id>/project.sqlite``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_home()
        self.projects_dir = self.path / "projects"
        self.projects_dir.mkdir(parents=True, exist_ok=True)

    def entries(self) -> list[Entry]:
        found = []
        for folder in sorted(self.projects_dir.iterdir()):
            db = folder / "project.sqlite"
            if not db.exists():
                continue
            store = DocStore(db)
            try:
                name = store.get_info("name") or folder.name
            finally:
                store.close()
            modified = max(p.stat().st_mtime for p in folder.glob("project.sqlite*"))
            found.append(Entry(folder.name, name, db, modified))
        return sorted(found, key=lambda e: e.name.lower())

    def find(self, name_or_id: str) -> Entry:
        for entry in self.entries():
            if name_or_id in (entry.name, entry.id):
                return entry
        known = ", ".join(e.name for e in self.entries()) or "none"
        raise StoreError(f"no project {name_or_id!r} in {self.path} (projects: {known})")

    def exists(self, name: str) -> bool:
        return any(e.name == name for e in self.entries())

    @contextlib.contextmanager
    def _names_locked(self) -> Iterator[None]:
        """Hold the home's name lock (SQLite's write lock on a small file): processes taking names take turns."""
        lock = sqlite3.connect(self.path / ".names.lock", timeout=60, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            yield
        finally:
            lock.close()  # ends the transaction, releasing the lock

    def create(self, name: str) -> DocStore:
        """A new, empty project store named ``name``, checked and taken under the name lock."""
        _check_name(name)
        with self._names_locked():
            if self.exists(name):
                raise StoreError(f"a project named {name!r} already exists in {self.path}")
            project_id = new_id("p")
            store = DocStore(self.projects_dir / project_id / "project.sqlite")
            store.set_info("name", name)
            store.set_info("created", repr(time.time()))
        return store

    def open(self, name_or_id: str) -> DocStore:
        return DocStore(self.find(name_or_id).path)

    def rename(self, name_or_id: str, new_name: str) -> None:
        _check_name(new_name)
        with self._names_locked():
            if self.exists(new_name):
                raise StoreError(f"a project named {new_name!r} already exists in {self.path}")
            store = self.open(name_or_id)
            try:
                store.set_info("name", new_name)
            finally:
                store.close()

    def share_token(self, name_or_id: str, renew: bool = False) -> str:
        """The token that opens project ``name_or_id`` (and nothing else of this home) to peers; made once,
        or anew with ``renew`` (addresses given out before stop working)."""
        store = self.open(name_or_id)
        try:
            token = store.get_info("share_token")
            if not token or renew:
                token = secrets.token_urlsafe(32)
                store.set_info("share_token", token)
            return token
        finally:
            store.close()

    def shared_by(self, token: str) -> Entry | None:
        """The project whose share token is ``token``, if any (compared in constant time)."""
        for folder in sorted(self.projects_dir.iterdir()):
            db = folder / "project.sqlite"
            if not db.exists():
                continue
            with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
                try:
                    row = conn.execute("SELECT value FROM info WHERE key = 'share_token'").fetchone()
                except sqlite3.OperationalError:
                    continue
            if row and secrets.compare_digest(row[0].encode(), token.encode()):
                return self.find(folder.name)
        return None

    def delete(self, name_or_id: str) -> None:
        shutil.rmtree(self.find(name_or_id).path.parent)

    def fork(self, source: DocStore, commit_id: str, new_name: str, author: str = "anonymous") -> DocStore:
        """A new project whose history starts at ``commit_id`` of ``source``."""
        state = source.state(commit_id)
        store = self.create(new_name)
        store.set_info("forked_from", f"{source.get_info('name')}@{commit_id}")
        store.seed_from(state, f"Fork of {source.get_info('name')} at {commit_id}", author)
        return store
