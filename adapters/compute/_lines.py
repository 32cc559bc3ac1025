"""Cut what a job writes on a pipe into lines as it arrives, holding at most ``limit`` bytes of it at a time.

Console streams (``whole=False``): a line longer than the limit comes out in pieces of at most
``limit`` bytes, cut between UTF-8 characters, each but the last without a newline, so the pieces
joined are exactly what was printed. Event records (``whole=True``): a record is only useful whole,
so one longer than the limit is not accumulated but dropped as it streams past, leaving an
:class:`Oversized` with its first bytes and its size. Either way memory stays bounded, whatever
the job prints (a 300 MiB line without a newline included).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO

__all__ = ["BUFFER", "CHUNK", "HEAD", "LineCutter", "Oversized", "iter_pieces", "read_pieces"]

CHUNK = 64 * 1024
"""Bytes read from a pipe at a time."""

BUFFER = 16 * CHUNK
"""The ``limit`` of an asyncio reader over a job's pipe: it stops reading past twice this, until drained."""

HEAD = 200
"""Bytes of a dropped record kept, so the note about it shows how it began."""


@dataclass(frozen=True, slots=True)
class Oversized:
    """A record longer than the limit, dropped: how it began and its size in bytes (newline excluded)."""

    head: bytes
    size: int


Piece = bytes | Oversized


class LineCutter:
    """Turns bytes fed in any slices into lines (with their newline) or pieces of lines, as described above."""

    def __init__(self, limit: int, *, whole: bool) -> None:
        if limit < 4:
            raise ValueError(f"limit must be at least 4 bytes, got {limit}")
        self.limit = limit
        self.whole = whole
        self._pending = bytearray()
        self._dropping: tuple[bytes, int] | None = None

    def feed(self, data: bytes) -> list[Piece]:
        """The lines and pieces ``data`` completes."""
        out: list[Piece] = []
        start = 0
        while (newline := data.find(b"\n", start)) >= 0:
            self._take(data[start : newline + 1], out, complete=True)
            start = newline + 1
        if start < len(data):
            self._take(data[start:], out, complete=False)
        return out

    def end(self) -> list[Piece]:
        """What is left once the stream ended: an unfinished last line (or a record dropped for its size)."""
        out: list[Piece] = []
        if self._dropping is not None:
            head, size = self._dropping
            self._dropping = None
            out.append(Oversized(head, size))
        elif self._pending:
            out.append(bytes(self._pending))
            self._pending.clear()
        return out

    def _take(self, piece: bytes, out: list[Piece], *, complete: bool) -> None:
        if self._dropping is not None:
            head, size = self._dropping
            size += len(piece) - (1 if complete else 0)
            if complete:
                self._dropping = None
                out.append(Oversized(head, size))
            else:
                self._dropping = (head, size)
            return
        if complete and not self._pending and len(piece) <= self.limit + 1:
            out.append(piece)
            return
        self._pending += piece
        body = len(self._pending) - (1 if complete else 0)
        if self.whole:
            if body > self.limit:
                head, size = bytes(self._pending[:HEAD]), body
                self._pending.clear()
                if complete:
                    out.append(Oversized(head, size))
                else:
                    self._dropping = (head, size)
            elif complete:
                out.append(bytes(self._pending))
                self._pending.clear()
            return
        while len(self._pending) > self.limit + (1 if complete else 0):
            cut = _boundary(self._pending, self.limit)
            out.append(bytes(self._pending[:cut]))
            del self._pending[:cut]
        if complete:
            out.append(bytes(self._pending))
            self._pending.clear()


def _boundary(data: bytearray, limit: int) -> int:
    """Where to cut ``data`` at or before ``limit`` without splitting a UTF-8 character (3 bytes back at most)."""
    for cut in range(limit, max(limit - 3, 0) - 1, -1):
        if data[cut] & 0xC0 != 0x80:
            return cut
    return limit


async def read_pieces(stream: asyncio.StreamReader, limit: int, *, whole: bool) -> AsyncIterator[Piece]:
    """Yield each line or piece of ``stream`` as soon as it is complete (see :class:`LineCutter`)."""
    cutter = LineCutter(limit, whole=whole)
    while data := await stream.read(CHUNK):
        for piece in cutter.feed(data):
            yield piece
    for piece in cutter.end():
        yield piece


def iter_pieces(stream: IO[bytes], limit: int, *, whole: bool) -> Iterator[Piece]:
    """The same from a blocking binary pipe (a worker thread's), reading whatever has arrived, CHUNK at most."""
    cutter = LineCutter(limit, whole=whole)
    read = getattr(stream, "read1", stream.read)
    while data := read(CHUNK):
        yield from cutter.feed(data)
    yield from cutter.end()
