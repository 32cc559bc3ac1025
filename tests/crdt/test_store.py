from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pycrdt import Map, Text

from deepforge_panel.crdt import DocStore, Home, StoreError, root
from deepforge_panel.crdt.store import COMPACT_AFTER
from tests.conftest import wait_until


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
import threading
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


def test_restore_makes_only_the_design_equal_and_keeps_the_records(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    doc = store.open()
    root(doc, "operations")["op"] = Map({"code": Text("a = 1\n")})
    root(doc, "executions")["x-early"] = Map({"status": "done"})
    first = store.commit("first", author="ada")
    root(doc, "operations")["op"]["code"].insert(0, "# edited\n")
    root(doc, "pipelines")["p"] = Map({"name": "later"})
    root(doc, "executions")["x-early"]["status"] = "failed"
    root(doc, "executions")["x-late"] = Map({"status": "done"})
    root(doc, "artifacts")["a-late"] = Map({"name": "model"})
    store.commit("second", author="ada")
    records = {name: root(doc, name).to_py() for name in ("executions", "artifacts")}

    store.restore(first, author="cy")
    assert str(root(doc, "operations")["op"]["code"]) == "a = 1\n" and "p" not in root(doc, "pipelines")
    assert {name: root(doc, name).to_py() for name in ("executions", "artifacts")} == records
    reopened = DocStore(tmp_path / "p.sqlite").open()
    assert root(reopened, "artifacts").to_py() == {"a-late": {"name": "model"}}
    assert root(reopened, "executions").to_py() == records["executions"]


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


def test_merge_keeps_the_concurrent_edits_of_both_branches(tmp_path: Path) -> None:
    store = DocStore(tmp_path / "p.sqlite")
    doc = store.open()
    meta = root(doc, "meta")
    meta["shared"] = "base"
    meta["gone"] = "base"
    meta["notes"] = Text("base")
    store.commit("base")
    store.branch("experiment")
    meta["on main"] = "main"
    del meta["gone"]
    meta["notes"].insert(len(str(meta["notes"])), " +main")

    other = DocStore(tmp_path / "p.sqlite")
    exp = other.open("experiment")
    exp_meta = root(exp, "meta")
    exp_meta["on experiment"] = "experiment"
    exp_meta["shared"] = "experiment"
    exp_meta["notes"].insert(0, "experiment+ ")
    exp_meta["uncommitted"] = "not merged"
    other.commit("on experiment")
    exp_meta["after the head"] = "not merged either"
    with pytest.raises(StoreError, match="into itself"):
        store.merge("main")
    with pytest.raises(StoreError, match="no branch"):
        store.merge("nope")

    preview = root(store.merged("experiment"), "meta").to_py()
    assert root(doc, "meta").to_py().get("on experiment") is None, "the preview leaves the live document alone"
    merge = store.merge("experiment", author="ada")
    merged = root(doc, "meta").to_py()
    assert merged == preview
    assert merged["on main"] == "main" and merged["on experiment"] == "experiment"
    assert merged["shared"] == "experiment" and "gone" not in merged
    assert merged["notes"] == "experiment+ base +main"
    assert merged["uncommitted"] == "not merged", "committed on experiment before its head"
    assert "after the head" not in merged, "only the head is merged, not later uncommitted edits"
    head = store.get_commit(merge)
    assert head.message == "Merge experiment into main" and head.author == "ada"
    assert root(DocStore(tmp_path / "p.sqlite").open("main"), "meta").to_py() == merged, "durable"
    assert "on main" not in root(exp, "meta").to_py(), "the source branch is left as it was"

    store.merge("experiment")  # again: nothing new, nothing doubled
    assert root(doc, "meta").to_py() == merged


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


def _meta(store: DocStore) -> dict:
    return {k: v for k, v in root(store.doc, "meta").items()}


def test_edits_interleaved_between_stores_are_each_applied_once(tmp_path: Path) -> None:
    """Issue 8.1: an own append must not skip rows another store appended before it."""
    a, b = DocStore(tmp_path / "p.sqlite"), DocStore(tmp_path / "p.sqlite")
    meta_a, meta_b = root(a.open(), "meta"), root(b.open(), "meta")
    meta_a["a1"] = "x"
    meta_b["b1"] = "x"
    meta_a["a2"] = "x"
    assert b.pull() == 2  # a1 and a2, never b's own row
    assert a.pull() == 1  # b1
    assert _meta(a) == _meta(b) == {"a1": "x", "b1": "x", "a2": "x"}
    assert a.pull() == 0 and b.pull() == 0

    applied, written = {"a": 1, "b": 2}, {"a": 2, "b": 1}
    rng = random.Random(8)
    for i in range(300):
        name = rng.choice("ab")
        store, meta = (a, meta_a) if name == "a" else (b, meta_b)
        if rng.random() < 0.6:
            meta[f"{name}-{i}"] = i
            written[name] += 1
        else:
            applied[name] += store.pull()
    applied["a"] += a.pull()
    applied["b"] += b.pull()
    assert applied == {"a": written["b"], "b": written["a"]}
    assert _meta(a) == _meta(b)
    assert len(_meta(a)) == written["a"] + written["b"]


def test_pull_never_applies_inside_an_open_transaction(tmp_path: Path) -> None:
    """A pull during another transaction would fold foreign rows into that edit; it waits for the next tick."""
    a, b = DocStore(tmp_path / "p.sqlite"), DocStore(tmp_path / "p.sqlite")
    doc_a, meta_b = a.open(), root(b.open(), "meta")
    meta_b["from_b"] = "x"
    with doc_a.transaction(origin="user"):
        root(doc_a, "meta")["from_a"] = "x"
        assert a.pull() == 0
    assert a.pull() == 1
    assert b.pull() == 1
    assert _meta(a) == _meta(b) == {"from_b": "x", "from_a": "x"}
    rows = a._db.execute("SELECT COUNT(*) FROM updates").fetchone()[0]
    assert rows == 2  # a's transaction appended its own edit only


APPENDER = """
import sys
import threading
from deepforge_panel.crdt import DocStore, root
store = DocStore(sys.argv[1])
meta = root(store.open(), "meta")
for i in range(int(sys.argv[2])):
    meta[f"child{i}"] = i
"""


def test_an_open_store_keeps_seeing_another_process_while_editing(tmp_path: Path) -> None:
    """Issue 8.1 as met: a server editing while a CLI process appends; every CLI edit arrives, once."""
    path = tmp_path / "p.sqlite"
    server = DocStore(path)
    meta = root(server.open(), "meta")
    count = 300
    child = subprocess.Popen([sys.executable, "-c", APPENDER, str(path), str(count)])
    log = sqlite3.connect(path)
    pulled, edits = 0, 0
    try:
        while pulled < count and edits < 2 * count:  # each round: the child's rows wait, the server edits, pulls
            seen = edits + pulled
            wait_until(lambda seen=seen: log.execute("SELECT COUNT(*) FROM updates").fetchone()[0] > seen)
            meta[f"server{edits}"] = edits
            edits += 1
            pulled += server.pull()
    finally:
        child.wait(timeout=60)
        log.close()
    pulled += server.pull()
    assert child.returncode == 0
    assert pulled == count
    assert [k for k in range(count) if meta.get(f"child{k}") != k] == []
    fresh = {k: v for k, v in root(DocStore(path).open(), "meta").items()}
    assert fresh == _meta(server)


COMMITTER = """
import sys, time
from pathlib import Path
from deepforge_panel.crdt import DocStore, root
path, tag, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = DocStore(path)
meta = root(store.open(), "meta")
Path(f"{go}.{tag}").touch()
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:  # start together, so the commits interleave
    time.sleep(0.001)
for i in range(count):
    meta[f"{tag}{i}"] = i
    store.commit(f"{tag}{i}", author=tag)
"""


def test_commits_from_concurrent_processes_are_all_reachable(tmp_path: Path) -> None:
    """Issue 8.8: the head is read and moved in one write transaction, so no commit is orphaned."""
    path, go = tmp_path / "p.sqlite", tmp_path / "go"
    DocStore(path).close()
    tags, count = ["p", "q", "r"], 50
    procs = [subprocess.Popen([sys.executable, "-c", COMMITTER, str(path), t, str(count), str(go)]) for t in tags]
    wait_until(lambda: all(Path(f"{go}.{t}").exists() for t in tags), timeout=60)
    go.touch()
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    store = DocStore(path)
    log = store.log()
    assert sorted(c.message for c in log) == sorted(f"{t}{i}" for t in tags for i in range(count))
    for commit in log:  # each version holds its own edit and every earlier one of the same process
        meta = root(store.checkout(commit.id), "meta")
        tag, n = commit.message[0], int(commit.message[1:])
        assert all(meta.get(f"{tag}{k}") == k for k in range(n + 1)), commit.message


def test_commit_reads_the_head_under_the_write_lock(tmp_path: Path) -> None:
    """Issue 8.8, deterministically: a commit waiting on another writer builds on that writer's commit."""
    path = tmp_path / "p.sqlite"
    store = DocStore(path)
    root(store.open(), "meta")["v"] = "one"
    first = store.commit("first")
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    other = sqlite3.connect(path, isolation_level=None, timeout=30)
    other.execute("BEGIN IMMEDIATE")  # another process, half-way through its commit
    other.execute(
        "INSERT INTO commits (id, parent, branch, author, message, time, state) VALUES (?,?,?,?,?,?,?)",
        ("c-other", first, "main", "bob", "other", 0.0, store.state(first)),
    )
    other.execute("UPDATE branches SET head = 'c-other' WHERE name = 'main'")
    made: list[str] = []
    thread = threading.Thread(target=lambda: made.append(store.commit("mine")))
    thread.start()
    try:
        wait_until(lambda: "BEGIN IMMEDIATE" in statements, message="the commit waits for the write lock")
    finally:
        other.execute("COMMIT")
        other.close()
        thread.join(timeout=60)
    store._db.set_trace_callback(None)
    assert [c.message for c in store.log()] == ["mine", "other", "first"]
    assert store.get_commit(made[0]).parent == "c-other"
