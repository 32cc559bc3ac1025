"""A compact difference between two full Yjs states (v1 update encoding).

``doc.get_update(state_vector(old))`` holds the new items but also the *whole* delete set of
``doc``, which grows with every deletion ever made: as a per-commit delta it would make history
quadratic again. :func:`diff` keeps only the deletions ``old`` lacks. A v1 update is its items,
then its delete set: ``varuint clients, per client: varuint client, varuint ranges, per range:
varuint clock, varuint length``; a state vector is ``varuint clients, per client: client, clock``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pycrdt import Doc

DeleteSet = dict[int, list[tuple[int, int]]]
"""Per client, the deleted clock ranges as ``(start, end)``, sorted."""


@dataclass(frozen=True)
class Summary:
    """What a full state holds, in the terms a difference needs: its state vector and delete set."""

    vector: bytes
    clocks: dict[int, int]
    deletes: bytes
    deleted: DeleteSet


def summarize(doc: Doc) -> Summary:
    vector = doc.get_state()
    deletes = doc.get_update(vector)[1:]  # an update with no items: 0x00, then the delete set
    return Summary(vector, decode_vector(vector), deletes, decode(deletes))


def contains(new: Summary, old: Summary) -> bool:
    """Whether state ``new`` holds every item and deletion of state ``old``.

    Items are named (client, clock) and each client's clocks run gap-free from 0 in a full state,
    so the state vectors compare the items; the delete sets compare the deletions.
    """
    if any(clock > new.clocks.get(client, 0) for client, clock in old.clocks.items()):
        return False
    return not any(subtract(old.deleted, new.deleted).values())


def diff(new_doc: Doc, new: Summary, old: Summary) -> bytes | None:
    """An update turning state ``old`` into ``new_doc`` (summarized as ``new``); None unless ``new`` contains ``old``."""
    if not contains(new, old):
        return None
    delta = new_doc.get_update(old.vector)
    if delta.endswith(new.deletes):
        delta = delta[: len(delta) - len(new.deletes)] + encode(subtract(new.deleted, old.deleted))
    return delta


def decode_vector(data: bytes) -> dict[int, int]:
    reader = _Reader(data)
    clocks = {}
    for _ in range(reader.uint()):
        client = reader.uint()
        clocks[client] = reader.uint()
    return clocks


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
