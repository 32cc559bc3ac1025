"""The y-websocket wire protocol, read strictly: a frame is accepted whole or refused with a reason.

A frame is ``varuint type`` then its body: ``0`` sync (``varuint step``, then ``varbytes`` holding a
state vector for step 1 or an update for step 2 and update), ``1`` awareness (``varbytes`` holding
``varuint n``, then per client ``varuint id, varuint clock, varstring JSON state``), ``3`` a query
for everyone's awareness (no body). Anything else, a truncated field or bytes after the last
field is a :class:`ProtocolError`; nothing of a refused frame reaches a document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AwarenessFrame",
    "Frame",
    "ProtocolError",
    "QueryAwareness",
    "SyncStep1",
    "SyncUpdate",
    "parse",
    "sync_step1",
    "sync_step2",
    "sync_update",
]

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3
SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

_MAX_VARUINT_BYTES = 10
"""A 64-bit number takes at most 10 bytes; a longer run of continuation bits is an attack, not a number."""


class ProtocolError(ValueError):
    """A frame that is not a y-websocket message a client may send; the text says what is wrong."""


@dataclass(frozen=True)
class SyncStep1:
    """A client's state vector: it asks for what it lacks."""

    state_vector: bytes


@dataclass(frozen=True)
class SyncUpdate:
    """An update to apply (a reply to our step 1, or a live edit)."""

    update: bytes
    step: int


@dataclass(frozen=True)
class AwarenessFrame:
    """Presence states, as sent (``frame``, forwarded unchanged) and read (client id -> state, None = gone)."""

    frame: bytes
    states: dict[int, dict[str, Any] | None]


@dataclass(frozen=True)
class QueryAwareness:
    """A request for every client's awareness state."""


Frame = SyncStep1 | SyncUpdate | AwarenessFrame | QueryAwareness


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def uint(self, what: str) -> int:
        value = shift = 0
        for _ in range(_MAX_VARUINT_BYTES):
            if self.pos >= len(self.data):
                raise ProtocolError(f"truncated frame: {what} ends early (at byte {self.pos})")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value
        raise ProtocolError(f"{what} at byte {self.pos} is not a number (over {_MAX_VARUINT_BYTES} bytes)")

    def bytes(self, what: str) -> bytes:
        length = self.uint(f"the length of {what}")
        if length > len(self.data) - self.pos:
            raise ProtocolError(f"truncated frame: {what} announces {length} bytes, {len(self.data) - self.pos} follow")
        start, self.pos = self.pos, self.pos + length
        return self.data[start : self.pos]

    def end(self, what: str) -> None:
        if self.pos != len(self.data):
            raise ProtocolError(f"{len(self.data) - self.pos} bytes after {what}")


def parse(frame: bytes) -> Frame:
    """The message in ``frame``; :class:`ProtocolError` if it is malformed, truncated or of an unknown type."""
    if not frame:
        raise ProtocolError("empty frame")
    reader = _Reader(frame)
    kind = reader.uint("the message type")
    if kind == MESSAGE_SYNC:
        step = reader.uint("the sync step")
        if step not in (SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE):
            raise ProtocolError(f"unknown sync step {step} (known: 0 step 1, 1 step 2, 2 update)")
        body = reader.bytes("the state vector" if step == SYNC_STEP1 else "the update")
        reader.end("the sync message")
        if step == SYNC_STEP1:
            _check_state_vector(body)
            return SyncStep1(body)
        return SyncUpdate(body, step)
    if kind == MESSAGE_AWARENESS:
        body = reader.bytes("the awareness update")
        reader.end("the awareness message")
        return AwarenessFrame(frame, _awareness_states(body))
    if kind == MESSAGE_QUERY_AWARENESS:
        reader.end("the awareness query")
        return QueryAwareness()
    if kind == MESSAGE_AUTH:
        raise ProtocolError("auth messages go from server to client only")
    raise ProtocolError(f"unknown message type {kind} (known: 0 sync, 1 awareness, 3 awareness query)")


def sync_step1(state_vector: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_STEP1]) + _varbytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_STEP2]) + _varbytes(update)


def sync_update(update: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_UPDATE]) + _varbytes(update)


def _varbytes(data: bytes) -> bytes:
    out = bytearray()
    length = len(data)
    while length >= 0x80:
        out.append((length & 0x7F) | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out) + data


def _check_state_vector(body: bytes) -> None:
    reader = _Reader(body)
    count = reader.uint("the state vector's client count")
    if count > len(body) // 2:
        raise ProtocolError(f"the state vector announces {count} clients in {len(body)} bytes")
    for _ in range(count):
        reader.uint("a client id of the state vector")
        reader.uint("a clock of the state vector")
    reader.end("the state vector")


def _awareness_states(body: bytes) -> dict[int, dict[str, Any] | None]:
    reader = _Reader(body)
    count = reader.uint("the awareness client count")
    if count > len(body) // 3:
        raise ProtocolError(f"the awareness update announces {count} clients in {len(body)} bytes")
    states: dict[int, dict[str, Any] | None] = {}
    for _ in range(count):
        client = reader.uint("an awareness client id")
        reader.uint("an awareness clock")
        text = reader.bytes("an awareness state")
        try:
            state = json.loads(text.decode("utf-8")) if text else None
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ProtocolError(f"the awareness state of client {client} is not JSON: {exc}") from None
        if state is not None and not isinstance(state, dict):
            raise ProtocolError(f"the awareness state of client {client} is {type(state).__name__}, not an object")
        states[client] = state
    reader.end("the awareness update")
    return states
