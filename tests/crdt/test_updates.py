"""The compact difference of two Yjs states: exact, and carrying only the new deletions."""

from __future__ import annotations

import random

from pycrdt import Doc

from deepforge_panel.crdt import roots
from deepforge_panel.crdt.updates import contains, decode, diff, encode, subtract, summarize
from tests.crdt.test_commits import edit


def test_subtract_keeps_exactly_the_ranges_outside() -> None:
    rng = random.Random(0)

    def ranges() -> list[tuple[int, int]]:
        points = sorted(rng.sample(range(80), 2 * rng.randrange(8)))
        return list(zip(points[::2], points[1::2], strict=True))

    def covered(rs: list[tuple[int, int]]) -> set[int]:
        return {x for start, end in rs for x in range(start, end)}

    for _ in range(500):
        a, b = ranges(), ranges()
        assert covered(subtract({7: a}, {7: b})[7]) == covered(a) - covered(b)
    deletes = {1: [(0, 3), (10, 12)], 2**40: [(5, 6)]}
    assert decode(encode(deletes)) == deletes


def test_diff_rebuilds_the_new_state_with_only_new_deletions() -> None:
    doc = Doc()
    roots(doc)
    rng = random.Random(1)
    for step in range(400):
        edit(doc, rng, step)
    old_doc = Doc()
    old_doc.apply_update(doc.get_update())
    for step in range(400, 403):
        edit(doc, rng, step)
    new, old = summarize(doc), summarize(old_doc)
    delta = diff(doc, new, old)
    assert delta is not None
    assert len(delta) < len(doc.get_update(old_doc.get_state())) / 2  # the whole delete set would dominate
    rebuilt = Doc()
    rebuilt.apply_update(old_doc.get_update())
    rebuilt.apply_update(delta)
    assert rebuilt.get_update() == doc.get_update()
    assert diff(old_doc, old, new) is None  # the older state does not contain the newer


def test_a_state_missing_a_deletion_of_its_parent_is_not_contained() -> None:
    """Two processes raced: the child saw every item but not one deletion: no delta can rebuild it."""
    parent = Doc()
    roots(parent)
    meta = parent["meta"]
    meta["a"] = "1"
    child = Doc()
    child.apply_update(parent.get_update())
    del meta["a"]  # a deletion only: the parent's state vector does not move
    assert not contains(summarize(child), summarize(parent))
    assert contains(summarize(parent), summarize(child))
