"""The peers a project knows, kept beside its history in its store file (never in the document).

Outgoing peers are the addresses this home links to (added by ``clone`` or ``peers add``), with
the token that opens them; incoming peers are workbenches that linked to this one, known by the
label they gave. The server that runs the links writes their state (connected or not, the last
contact, the last error); the CLI and the project's page read it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from deepforge_panel.crdt.peer_wire import PeerAddress

_SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
    address TEXT PRIMARY KEY, direction TEXT NOT NULL, token TEXT NOT NULL DEFAULT '',
    added REAL NOT NULL, contact REAL, state TEXT NOT NULL DEFAULT 'not linked', error TEXT NOT NULL DEFAULT ''
);
"""

OUT = "out"
IN = "in"


@dataclass(frozen=True)
class Peer:
    """One peer of a project: its address (without token) or label, and how the link to it fares."""

    address: str
    direction: str
    added: float
    contact: float | None
    state: str
    error: str
    token: str = ""

    @property
    def linked(self) -> str:
        """How lists say which side made the link: "linked to" (an outgoing peer) or "linked from"."""
        return "linked to" if self.direction == OUT else "linked from"

    @property
    def link(self) -> PeerAddress:
        """The address to link to, token included (outgoing peers only)."""
        where = PeerAddress.parse(self.address)
        return PeerAddress(where.server, where.project, self.token)


class PeerBook:
    """The ``peers`` table of one project's store file (its own connection: any process may read or write it)."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(Path(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def peers(self, direction: str | None = None) -> list[Peer]:
        rows = self._db.execute(
            "SELECT address, direction, added, contact, state, error, token FROM peers ORDER BY added"
        ).fetchall()
        return [Peer(*row) for row in rows if direction is None or row[1] == direction]

    def add(self, address: PeerAddress) -> Peer:
        """Remember an outgoing peer (its token too); adding it again updates the token."""
        self._db.execute(
            "INSERT INTO peers (address, direction, token, added) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (address) DO UPDATE SET token = excluded.token, direction = excluded.direction",
            (address.display, OUT, address.token, time.time()),
        )
        return self.get(address.display)

    def remove(self, address: str) -> bool:
        """Forget a peer (by its address, with or without token, or its label); whether it was known."""
        key = _key(address)
        return self._db.execute("DELETE FROM peers WHERE address = ?", (key,)).rowcount > 0

    def get(self, address: str) -> Peer:
        row = self._db.execute(
            "SELECT address, direction, added, contact, state, error, token FROM peers WHERE address = ?",
            (_key(address),),
        ).fetchone()
        if row is None:
            raise LookupError(f"no peer {address!r}")
        return Peer(*row)

    def report(self, address: str, state: str, error: str = "", *, contact: bool = False) -> None:
        """Record how the link to an outgoing peer fares (``contact``: it answered just now)."""
        self._db.execute(
            "UPDATE peers SET state = ?, error = ?, contact = CASE WHEN ? THEN ? ELSE contact END WHERE address = ?",
            (state, error, contact, time.time(), _key(address)),
        )

    def reset(self) -> None:
        """No link is up (a server starting, maybe after a crash that left rows saying connected)."""
        self._db.execute("UPDATE peers SET state = 'disconnected' WHERE state IN ('connected', 'connecting')")

    def heard(self, label: str, state: str | None = None) -> None:
        """Record contact from an incoming peer (a workbench that linked to this one), and its new state if given."""
        now = time.time()
        self._db.execute(
            "INSERT INTO peers (address, direction, added, contact, state) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (address) DO UPDATE SET contact = excluded.contact, "
            "state = COALESCE(?, state) WHERE direction = 'in'",
            (label, IN, now, now, state or "seen", state),
        )


def _key(address: str) -> str:
    """The table key of an address given with or without its token (a label stays as it is)."""
    try:
        return PeerAddress.parse(address).display
    except ValueError:
        return address
