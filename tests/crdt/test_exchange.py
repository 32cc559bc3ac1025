"""History between stores: commits travel as stored, heads only fast-forward, concurrent commits are both kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from pycrdt import Map

from deepforge_panel.crdt import DocStore, root
from deepforge_panel.crdt.commits import CHAIN_RATIO
from deepforge_panel.crdt.exchange import CommitRecord, ExchangeError


def _clone(source: DocStore, path: Path) -> DocStore:
    """A store holding ``source``'s history and live state, as a clone makes it."""
    copy = DocStore(path)
    _, heads = source.history()
    copy.take_history(source.export_commits(), {n: h for n, h in heads.items() if h})
    copy.open().apply_update(source.doc.get_update())
    return copy


def _sync(a: DocStore, b: DocStore) -> None:
    """Both ways, as a link does: each takes the commits it lacks and fast-forwards to the other's heads."""
    for src, dst in ((a, b), (b, a)):
        _, heads = src.history()
        dst.take_history(src.export_commits(), {n: h for n, h in heads.items() if h})


def _graph(store: DocStore) -> set[tuple[str, str | None, tuple[str, ...], str, str, str, float]]:
    commits, _ = store.history()
    return {(c.id, c.parent, c.merged, c.branch, c.author, c.message, c.time) for c in commits}


@pytest.fixture
def origin(tmp_path: Path) -> DocStore:
    store = DocStore(tmp_path / "a.sqlite")
    meta = root(store.open(), "meta")
    for i in range(5):
        meta[f"k{i}"] = i
        store.commit(f"step {i}", author="ada")
    return store


def test_a_clone_holds_every_commit_with_its_metadata_and_state(origin: DocStore, tmp_path: Path) -> None:
    copy = _clone(origin, tmp_path / "b.sqlite")
    assert _graph(copy) == _graph(origin)
    assert [c.id for c in copy.log()] == [c.id for c in origin.log()]
    for commit in origin.log():
        assert root(copy.checkout(commit.id), "meta").to_py() == root(origin.checkout(commit.id), "meta").to_py()
    assert root(copy.doc, "meta").to_py() == root(origin.doc, "meta").to_py()


def test_a_clone_merges_without_duplicating(origin: DocStore, tmp_path: Path) -> None:
    """The clone is the peer's own state: merging it back changes nothing (re-created content would double)."""
    root(origin.doc, "operations")["op"] = Map({"name": "only once"})
    copy = _clone(origin, tmp_path / "b.sqlite")
    before = origin.doc.get_state()
    origin.doc.apply_update(copy.doc.get_update())
    assert origin.doc.get_state() == before
    assert len(root(origin.doc, "operations")) == 1


def test_commits_made_on_either_side_reach_the_other_and_heads_fast_forward(origin: DocStore, tmp_path: Path) -> None:
    copy = _clone(origin, tmp_path / "b.sqlite")
    root(copy.doc, "meta")["from_b"] = True
    on_b = copy.commit("on b", author="bob")
    _sync(origin, copy)
    assert origin.head() == on_b and origin.get_commit(on_b).author == "bob"
    root(origin.doc, "meta")["from_a"] = True
    on_a = origin.commit("on a", author="ada")
    _sync(origin, copy)
    assert copy.head() == on_a and copy.get_commit(on_a).parent == on_b
    assert _graph(copy) == _graph(origin)


def test_concurrent_commits_are_both_kept_as_tips_and_the_next_commit_merges_them(
    origin: DocStore, tmp_path: Path
) -> None:
    copy = _clone(origin, tmp_path / "b.sqlite")
    base = origin.head()
    root(origin.doc, "meta")["a"] = 1
    on_a = origin.commit("a", author="ada")
    root(copy.doc, "meta")["b"] = 1
    on_b = copy.commit("b", author="bob")
    _sync(origin, copy)
    assert origin.head() == on_a and copy.head() == on_b, "neither side's head is moved to a divergent commit"
    assert set(origin.tips()) == set(copy.tips()) == {on_a, on_b}
    assert origin.get_commit(on_b).parent == base
    origin.doc.apply_update(copy.doc.get_update())  # the live documents merge, as a link does
    merge = origin.commit("after", author="ada")
    assert origin.get_commit(merge).merged == (on_b,) and origin.get_commit(merge).parent == on_a
    _sync(origin, copy)
    assert origin.tips() == copy.tips() == [merge] and copy.head() == merge
    log = [c.id for c in copy.log()]
    assert log[0] == merge and {on_a, on_b} <= set(log[1:3]) and log.index(base) > max(log.index(on_a), log.index(on_b))
    assert copy.restore(on_b, author="bob")  # either divergent head can be restored


def test_a_branch_made_on_one_side_can_be_opened_on_the_other(origin: DocStore, tmp_path: Path) -> None:
    copy = _clone(origin, tmp_path / "b.sqlite")
    origin.branch("idea")
    _sync(origin, copy)
    assert "idea" in copy.branches() and copy.head("idea") == origin.head("idea")
    other = DocStore(tmp_path / "b.sqlite")
    try:
        assert root(other.open("idea"), "meta")["k4"] == 4
    finally:
        other.close()


def test_a_delta_past_this_stores_chain_budget_is_stored_as_a_checkpoint(origin: DocStore, tmp_path: Path) -> None:
    copy = _clone(origin, tmp_path / "b.sqlite")
    parent = origin.head()
    assert parent is not None
    before = origin.doc.get_state()
    root(origin.doc, "meta")["big"] = "z" * 10_000
    delta = origin.doc.get_update(before)
    record = CommitRecord("cbig", parent, (), "main", "ada", "big", 2.0, True, delta)
    copy.take_history([record], {"main": "cbig"})
    delta_flag, chain, base = copy._db.execute("SELECT delta, chain, base FROM commits WHERE id = 'cbig'").fetchone()
    assert not delta_flag and chain == 0 and base > 10_000, "stored whole, not as a chain too long to rebuild cheaply"
    assert root(copy.checkout("cbig"), "meta").to_py() == root(origin.doc, "meta").to_py()
    assert chain <= CHAIN_RATIO * base


def test_commits_whose_parent_is_missing_are_refused_and_nothing_is_stored(origin: DocStore, tmp_path: Path) -> None:
    copy = DocStore(tmp_path / "b.sqlite")
    copy.open()
    records = origin.export_commits()
    orphan = CommitRecord("cnope", "cmissing", (), "main", "eve", "forged", 1.0, True, b"\x00\x00")
    with pytest.raises(ExchangeError, match="lacks"):
        copy.take_history([*records, orphan], {})
    assert copy.history()[0] == []
    with pytest.raises(ExchangeError, match="was not sent"):
        copy.take_history([], {"main": "cunknown"})
