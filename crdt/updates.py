"""A compact difference between two full Yjs states (v1 update encoding).

``pycrdt.get_update(new, state_vector(old))`` holds the new items but also the *whole* delete
set of ``new``, which grows with every deletion ever made: as a per-commit delta it would make
history quadratic again. :func:`diff` keeps only the deletions ``old`` lacks. A v1 update is
its items, then its delete set: ``varuint clients, per client: varuint client, varuint ranges,
per range: varuint clock, varuint length``.
"""

from __future__ import annotations

from pycrdt import Doc, get_state, get_update

DeleteSet = dict[int, list[tuple[int, int]]]
"""Per client, the deleted clock ranges as ``(start, end)``, sorted."""


def diff(new: bytes, old: bytes) -> bytes | None:
    """An update that turns state ``old`` into state ``new``; None unless applying it gives ``new`` exactly.

    Meant for ``old`` contained in ``new`` (a parent and its child); anything else fails the check.
    """
    delta = get_update(new, get_state(old))
    deletes_new, deletes_old = _delete_set_bytes(new), _delete_set_bytes(old)
    if deletes_new is not None and deletes_old is not None and delta.endswith(deletes_new):
        kept = subtract(decode(deletes_new), decode(deletes_old))
        delta = delta[: len(delta) - len(deletes_new)] + encode(kept)
    rebuilt: Doc = Doc()
    expected: Doc = Doc()
    rebuilt.apply_update(old)
    rebuilt.apply_update(delta)
    expected.apply_update(new)
    return delta if rebuilt.get_update() == expected.get_update() else None


def _delete_set_bytes(state: bytes) -> bytes | None:
    """The encoded delete set of ``state``: an update with no items is ``0x00`` then exactly that."""
    empty = get_update(state, get_state(state))
    return empty[1:] if empty[:1] == b"\x00" else None


def decode(data: bytes) -> DeleteSet:
    reader = _Reader(data)
    deletes: DeleteSet = {}
    for _ in range(reader.uint()):
        client = reader.uint()
        ranges = []
        for _ in range(reader.uint()):
            start = reader.uint()
            ranges.append((start, start + reader.uint()))
        deletes[client] = sorted(ranges)
    if reader.pos != len(data):
        raise ValueError(f"{len(data) - reader.pos} bytes after a delete set")
    return deletes


def encode(deletes: DeleteSet) -> bytes:
    out = bytearray()
    clients = [(client, ranges) for client, ranges in deletes.items() if ranges]
    _uint(len(clients), out)
    for client, ranges in clients:
        _uint(client, out)
        _uint(len(ranges), out)
        for start, end in ranges:
            _uint(start, out)
            _uint(end - start, out)
    return bytes(out)


def subtract(deletes: DeleteSet, known: DeleteSet) -> DeleteSet:
    """The ranges of ``deletes`` outside ``known`` (both sorted per client; one pass over each)."""
    result: DeleteSet = {}
    for client, ranges in deletes.items():
        holes = known.get(client, [])
        kept: list[tuple[int, int]] = []
        first = 0
        for start, end in ranges:
            while first < len(holes) and holes[first][1] <= start:
                first += 1
            at = first
            while at < len(holes) and holes[at][0] < end and start < end:
                hole_start, hole_end = holes[at]
                if hole_start > start:
                    kept.append((start, hole_start))
                start = max(start, hole_end)
                at += 1
            if start < end:
                kept.append((start, end))
        result[client] = kept
    return result


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self) -> int:
        value = shift = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value


def _uint(value: int, out: bytearray) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
