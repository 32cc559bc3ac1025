"""A code editor shown new text by the server never sends it back as an edit.

Ace replaces its text as a removal then an insertion, and Panel's editor reports each step to the
server: an empty text, then the text it was shown, arriving after the server may have moved on. Written
back, that wiped an operation's code for a moment, sent an older version over a newer one, or (the node
selection having changed meanwhile) put one operation's code into another.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from pycrdt import Doc, Map

from deepforge_panel.client import Client
from deepforge_panel.crdt import Home
from tests.browser.test_workbench import TIMEOUT, node, open_project

pytestmark = pytest.mark.browser
VERSIONS = 24


def _store_rows(home: Any, project: str, after: int = 0) -> list[tuple[int, bytes]]:
    store = Home(home).open(project)
    path = store.path
    store.close()
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT seq, data FROM updates WHERE branch = 'main' AND seq > ? ORDER BY seq", (after,)
        ).fetchall()
    return [(seq, bytes(data)) for seq, data in rows]


def _codes(home: Any, project: str, op_ids: list[str], start: int) -> list[dict[str, str]]:
    """Every operation's code after each row the store appended past ``start``: what the document held."""
    doc = Doc()
    operations = doc.get("operations", type=Map)
    seen: list[dict[str, str]] = []
    for seq, data in _store_rows(home, project):
        doc.apply_update(data)
        if seq > start:
            seen.append({op: str(operations[op]["code"]) for op in op_ids})
    return seen


def _wait_shown(page: Any, code: str) -> None:
    """Wait until the visible code editor holds ``code`` (Ace draws only the lines in view, so ask Ace)."""
    page.wait_for_function(
        """code => {
            const editors = (root) => [...root.querySelectorAll("*")].flatMap((e) => [
                ...(e.classList.contains("ace_editor") ? [e] : []), ...(e.shadowRoot ? editors(e.shadowRoot) : []),
            ])
            return editors(document).some((e) => e.offsetParent !== null && ace.edit(e).getValue() === code)
        }""",
        arg=code,
        timeout=TIMEOUT,
    )


def test_code_shown_by_the_server_is_not_written_back(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    client = Client(server.url, server.token)
    nodes = {n["name"]: n for n in client.pipeline(project, "train")["nodes"]}
    train, split = nodes["train"]["operation"], nodes["split"]["operation"]
    original = {op: client.operation(project, op)["code"] for op in (train, split)}
    node(page, "train").click()
    _wait_shown(page, original[train])
    start = _store_rows(server.home, project)[-1][0]

    versions = [f"{original[train]}\n# version {i}\n" for i in range(VERSIONS)]
    for version in versions:  # each edit is pushed to the open editor at once, faster than it answers
        client.update_operation(project, train, code=version)
        node(page, "split" if version is versions[VERSIONS // 2] else "train").click(no_wait_after=True)
    node(page, "train").click()
    _wait_shown(page, versions[-1])
    node(page, "split").click()  # a round trip: whatever the page sent before has reached the server
    _wait_shown(page, original[split])

    held = _codes(server.home, project, [train, split], start)
    assert all(codes[split] == original[split] for codes in held), "another operation's code was written"
    order = [versions.index(codes[train]) for codes in held if codes[train] != original[train]]
    assert len(order) == len(held), "the code held a text no edit sent: " + repr(
        next(codes[train][-40:] for codes in held if codes[train] not in versions)
    )
    assert order == sorted(order), f"an older version came back after a newer one: {order}"
    assert client.operation(project, train)["code"] == versions[-1]
