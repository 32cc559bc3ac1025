"""Read-only links: tokens that open one project's present view and nothing else.

A presenter gives an audience ``http://host:port/present?project=<id>&token=<token>``; the server
(:mod:`deepforge_panel.auth`) accepts such a token on that project's present page, its session
websocket and the static files it loads, and refuses it everywhere else. The tokens of a home live in
``<home>/view_tokens.json``, written atomically with mode 0600 (the file the owner alone reads, like the
home token); they are kept in clear, as the projects' share tokens are, so the share dialog can show the
link again. A revoked token stays listed as revoked, so a request with it is told why it is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

from deepforge_panel.errors import NotFound, ProjectError
from deepforge_panel.secret_store import write_private_json

__all__ = ["PRESENT_PATH", "VIEW_TOKENS_FILE", "ViewToken", "ViewTokens", "present_link"]

VIEW_TOKENS_FILE = "view_tokens.json"
PRESENT_PATH = "/present"
"""Where the server serves the present page (:mod:`deepforge_panel.apps.present`)."""
LABEL_MAX = 80


@dataclass(frozen=True)
class ViewToken:
    """One read-only link of one project: who it was made for (``label``), and whether it was revoked."""

    id: str
    """A short public name of the link (``v-3f9a...``): the CLI and the dialog revoke by it."""
    project: str
    """The project's id (links keep working when the project is renamed)."""
    label: str
    token: str
    created: float
    revoked: float | None = None


def present_link(base: str, project_id: str, token: str, execution: str | None = None) -> str:
    """The full address of ``project_id``'s present view for ``token``, on the server at ``base``."""
    query = {"project": project_id, **({"execution": execution} if execution else {}), "token": token}
    return f"{base.rstrip('/')}{PRESENT_PATH}?{urlencode(query)}"


def check_label(label: str) -> str:
    """A label shown in lists: one line of printable text, at most :data:`LABEL_MAX` characters."""
    label = " ".join(str(label).split())
    if not label:
        raise ProjectError("a read-only link needs a label (who or what it is for, e.g. 'group meeting')")
    if len(label) > LABEL_MAX or not label.isprintable():
        raise ProjectError(f"a read-only link's label is one line of at most {LABEL_MAX} printable characters")
    return label


class ViewTokens:
    """The read-only links of one home folder."""

    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / VIEW_TOKENS_FILE

    def create(self, project_id: str, label: str) -> ViewToken:
        """A new read-only link to ``project_id``'s present view, labelled ``label``."""
        token = ViewToken(
            id=f"v-{secrets.token_hex(4)}",
            project=project_id,
            label=check_label(label),
            token=secrets.token_urlsafe(32),
            created=time.time(),
        )
        with self._locked():
            self._write([*self._read(), token])
        return token

    def links(self, project_id: str) -> list[ViewToken]:
        """``project_id``'s links that still work, oldest first."""
        return [t for t in self._read() if t.project == project_id and t.revoked is None]

    def revoke(self, project_id: str, token_id: str) -> ViewToken:
        """Stop link ``token_id`` (its id, or the token itself) of ``project_id``: new requests with it are
        refused from now on, and open present views of it close within a second."""
        with self._locked():
            tokens = self._read()
            for index, token in enumerate(tokens):
                if token.project == project_id and token.revoked is None and token_id in (token.id, token.token):
                    tokens[index] = revoked = replace(token, revoked=time.time())
                    self._write(tokens)
                    return revoked
        listed = ", ".join(f"{t.id} ({t.label})" for t in self.links(project_id)) or "none"
        raise NotFound(f"no read-only link {token_id!r} of this project (its links: {listed})", token_id)

    def find(self, token: str) -> ViewToken | None:
        """The link whose token is ``token``, revoked or not (compared in constant time), if any."""
        found = None
        for entry in self._read():
            if hmac.compare_digest(entry.token.encode(), token.encode()):
                found = entry
        return found

    def _read(self) -> list[ViewToken]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except ValueError as exc:
            raise ProjectError(f"{self.path} is not valid JSON ({exc}): fix or delete it") from exc
        fields = set(ViewToken.__dataclass_fields__)
        return [ViewToken(**{k: v for k, v in entry.items() if k in fields}) for entry in data.get("tokens", [])]

    def _write(self, tokens: list[ViewToken]) -> None:
        write_private_json(self.path, {"tokens": [asdict(t) for t in tokens]})

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the home's view-token lock: the server and the CLI change the file in turns."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{VIEW_TOKENS_FILE}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
