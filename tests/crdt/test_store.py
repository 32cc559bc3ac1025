from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pycrdt import Map, Text

from deepforge_panel.crdt import DocStore, Home, StoreError, root
from deepforge_panel.crdt.store import COMPACT_AFTER


def test_edits_survive_reopen(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    doc = store.open()
    root(doc, "meta")["title"] = "hello"
    root(doc, "operations")["op"] = Map({"code": Text("print(1)")})
    store.close()

    again = DocStore(tmp_path / "p.sqlite").open()
    assert root(again, "meta")["title"] == "hello"
    assert str(root(again, "operations")["op"]["code"]) == "print(1)"


WRITER = """
import sys
from deepforge_panel.crdt import DocStore, root
store = DocStore(sys.argv[1])
meta = root(store.open(), "meta")
i = 0
while True:
    meta[f"k{i}"] = i          # one transaction, appended before this line returns
    print(f"ack {i}", flush=True)
    i += 1
"""


def test_kill_9_loses_no_acknowledged_edit(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    acked = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        acked = int(line.split()[1])
        if acked >= 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    meta = root(DocStore(path).open(), "meta")
    missing = [i for i in range(acked + 1) if meta.get(f"k{i}") != i]
    assert missing == []


def test_commit_log_checkout_restore(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    doc = store.open()
    meta = root(doc, "meta")
    meta["v"] = "one"
    root(doc, "operations")["op"] = Map({"code": Text("a = 1\n")})
    first = store.commit("first", author="ada")
    meta["v"] = "two"
    root(doc, "operations")["op"]["code"].insert(0, "# edited\n")
    root(doc, "operations")["extra"] = Map({"x": 1})
    second = store.commit("second", author="bob")

    assert [(c.message, c.author) for c in store.log()] == [("second", "bob"), ("first", "ada")]
    assert store.get_commit(second).parent == first

    old = store.checkout(first)
    assert root(old, "meta")["v"] == "one"
    assert "extra" not in root(old, "operations")

    restored = store.restore(first, author="cy")
    assert root(doc, "meta")["v"] == "one"
    assert str(root(doc, "operations")["op"]["code"]) == "a = 1\n"
    assert "extra" not in root(doc, "operations")
    assert store.log()[0].id == restored and store.log()[0].message == f"Restore {first}"

    reopened = DocStore(tmp_path / "p.sqlite").open()
    assert root(reopened, "meta")["v"] == "one"


def test_branches_have_their_own_live_state(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    doc = store.open()
    root(doc, "meta")["v"] = "base"
    base = store.commit("base")
    store.branch("experiment")
    root(doc, "meta")["v"] = "main edit"

    other = DocStore(tmp_path / "p.sqlite")
    exp = other.open("experiment")
    assert root(exp, "meta")["v"] == "base"
    root(exp, "meta")["v"] = "experiment edit"
    other.commit("on experiment")
    assert other.log("experiment")[1].id == base
    assert root(DocStore(tmp_path / "p.sqlite").open("main"), "meta")["v"] == "main edit"
    with pytest.raises(StoreError, match="already exists"):
        store.branch("experiment")
    with pytest.raises(StoreError, match="no branch"):
        store.open("nope")


def test_fork_starts_a_new_project_at_a_commit(tmp_path: Path) -> None:
    home = Home(tmp_path)
    source = home.create("alpha")
    root(source.open(), "meta")["v"] = "at fork"
    commit = source.commit("c1")
    root(source.doc, "meta")["v"] = "later"
    fork = home.fork(source, commit, "beta")
    assert root(fork.doc, "meta")["v"] == "at fork"
    assert [e.name for e in home.entries()] == ["alpha", "beta"]
    assert fork.get_info("forked_from") == f"alpha@{commit}"
    with pytest.raises(StoreError, match="already exists"):
        home.create("beta")
    with pytest.raises(StoreError, match="invalid project name"):
        home.create("../evil")


def test_two_processes_share_one_log(tmp_path: Path) -> None:
    a = DocStore(tmp_path / "p.sqlite")
    b = DocStore(tmp_path / "p.sqlite")
    doc_a, doc_b = a.open(), b.open()
    root(doc_a, "meta")["from_a"] = "1"
    assert b.pull() == 1
    assert root(doc_b, "meta")["from_a"] == "1"


def test_long_logs_are_compacted_on_open(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    meta = root(store.open(), "meta")
    for i in range(COMPACT_AFTER + 10):
        meta["n"] = i
    store.close()
    again = DocStore(tmp_path / "p.sqlite")
    assert root(again.open(), "meta")["n"] == COMPACT_AFTER + 9
    count = again._db.execute("SELECT COUNT(*) FROM updates").fetchone()[0]
    assert count == 1


def test_history_errors_are_clear(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    store.open()
    with pytest.raises(StoreError, match="no commit"):
        store.checkout("c-missing")
    with pytest.raises(StoreError, match="commit before branching"):
        store.branch("x")
