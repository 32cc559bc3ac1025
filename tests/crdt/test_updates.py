"""The compact difference of two Yjs states: exact, and carrying only the new deletions."""

from __future__ import annotations

import random

from pycrdt import Doc, get_state, get_update

from deepforge_panel.crdt import roots
from deepforge_panel.crdt.updates import decode, diff, encode, subtract
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
    old = doc.get_update()
    for step in range(400, 403):
        edit(doc, rng, step)
    new = doc.get_update()
    delta = diff(new, old)
    assert delta is not None
    assert len(delta) < len(get_update(new, get_state(old))) / 2  # the whole delete set would dominate
    assert diff(old, new) is None  # the older state does not contain the newer
