"""What peers say to each other besides Yjs: a peer's address, and history as JSON.

A peer's address is its project's page address with a token, as its share dialog shows it:
``http://host:port/?project=digits&token=...``. History travels as JSON: commit metadata, and for
the commits a peer asks for, their stored state in base64 (:mod:`.exchange`). Everything read from
a peer is checked field by field; anything else is a :class:`~.exchange.ExchangeError`.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from deepforge_panel.crdt.exchange import CommitRecord, ExchangeError
from deepforge_panel.crdt.names import name_problem

__all__ = ["PeerAddress", "PeerError", "commit_from_json", "commit_to_json", "heads_from_json", "meta_from_json"]

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class PeerError(Exception):
    """A peer that cannot be reached, refuses us, or sends what cannot be taken in; the text says which."""


@dataclass(frozen=True)
class PeerAddress:
    """Where a peer's project is: its server (``http[s]://host:port``), the project (name or id), a token."""

    server: str
    project: str
    token: str = ""

    @classmethod
    def parse(cls, url: str) -> PeerAddress:
        """Read a share address; :class:`ValueError` saying what is missing otherwise."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not a workbench address (expected http://host:port/?project=NAME&token=...)")
        query = parse_qs(parts.query)
        project = (query.get("project") or [""])[0]
        if not project:
            raise ValueError(f"{_safe(url)} names no project (expected ...?project=NAME&token=...)")
        return cls(f"{parts.scheme}://{parts.netloc}", project, (query.get("token") or [""])[0])

    def with_project(self, project: str) -> PeerAddress:
        return PeerAddress(self.server, project, self.token)

    @property
    def url(self) -> str:
        """The full address, token included (a secret: never logged or shown in lists)."""
        query = {"project": self.project, **({"token": self.token} if self.token else {})}
        return f"{self.server}/?{urlencode(query)}"

    @property
    def display(self) -> str:
        """The address without its token: what lists and logs show."""
        return f"{self.server}/?{urlencode({'project': self.project})}"

    def http(self, path: str) -> str:
        """The address of ``path`` under this project's peer routes (``/peer/<project>/<path>``)."""
        return f"{self.server}/peer/{quote(self.project, safe='')}/{path}"

    def websocket(self, branch: str = "main", **params: str) -> str:
        """The project's Yjs sync endpoint on ``branch``."""
        scheme = "wss" if self.server.startswith("https") else "ws"
        query = f"?{urlencode(params)}" if params else ""
        host = self.server.split("://", 1)[1]
        return f"{scheme}://{host}/sync/{quote(self.project, safe='')}/{quote(branch, safe='')}{query}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"} if self.token else {}


def _safe(url: str) -> str:
    """``url`` with any token cut off, for error messages."""
    return url.split("token=", 1)[0] + ("token=..." if "token=" in url else "")


def commit_to_json(record: CommitRecord, with_state: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "parent": record.parent,
        "merged": list(record.merged),
        "branch": record.branch,
        "author": record.author,
        "message": record.message,
        "time": record.time,
    }
    if with_state:
        out["delta"] = record.delta
        out["state"] = base64.b64encode(record.state).decode("ascii")
    return out


def meta_from_json(data: Any) -> CommitRecord:
    """A commit's metadata from a peer (its state left empty)."""
    if not isinstance(data, dict):
        raise ExchangeError(f"a commit must be an object, not {type(data).__name__}")
    commit_id = _commit_id(data.get("id"), "id")
    parent = data.get("parent")
    merged = data.get("merged", [])
    if not isinstance(merged, list):
        raise ExchangeError(f"commit {commit_id}: 'merged' must be a list")
    branch = data.get("branch")
    if not isinstance(branch, str) or name_problem(branch) is not None:
        raise ExchangeError(f"commit {commit_id}: {branch!r} is not a branch name")
    author, message, when = data.get("author"), data.get("message"), data.get("time")
    if not isinstance(author, str) or not isinstance(message, str):
        raise ExchangeError(f"commit {commit_id}: author and message must be text")
    if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
        raise ExchangeError(f"commit {commit_id}: 'time' must be a number")
    return CommitRecord(
        commit_id,
        None if parent is None else _commit_id(parent, "parent"),
        tuple(_commit_id(m, "merged parent") for m in merged),
        branch,
        author,
        message,
        float(when),
        False,
        b"",
    )


def commit_from_json(data: Any) -> CommitRecord:
    """A whole commit from a peer, state included."""
    meta = meta_from_json(data)
    delta, state = data.get("delta"), data.get("state")
    if not isinstance(delta, bool) or not isinstance(state, str):
        raise ExchangeError(f"commit {meta.id}: 'delta' must be true or false and 'state' base64 text")
    try:
        raw = base64.b64decode(state, validate=True)
    except (binascii.Error, ValueError):
        raise ExchangeError(f"commit {meta.id}: its state is not base64") from None
    if delta and meta.parent is None:
        raise ExchangeError(f"commit {meta.id} is a delta with no parent")
    return CommitRecord(
        meta.id, meta.parent, meta.merged, meta.branch, meta.author, meta.message, meta.time, delta, raw
    )


def heads_from_json(data: Any) -> dict[str, str | None]:
    """Branch heads from a peer: branch name -> commit id (or None for a branch with no commit)."""
    if not isinstance(data, dict):
        raise ExchangeError("branch heads must be an object")
    heads: dict[str, str | None] = {}
    for name, head in data.items():
        if not isinstance(name, str) or name_problem(name) is not None:
            raise ExchangeError(f"{name!r} is not a branch name")
        heads[name] = None if head is None else _commit_id(head, f"the head of {name!r}")
    return heads


def _commit_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not set(value) <= _ID_CHARS:
        raise ExchangeError(f"{what} {value!r} is not a commit id")
    return value
