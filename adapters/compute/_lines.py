"""Read whole lines from an asyncio stream, however long, without losing or splitting any."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

__all__ = ["read_lines"]


async def read_lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Yield each line (with its newline) as soon as it is complete; a line past the limit is joined."""
    pending = bytearray()
    while True:
        try:
            chunk = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            pending += exc.partial
            if pending:
                yield bytes(pending)
            return
        except asyncio.LimitOverrunError as exc:
            # The buffered part of an over-long line stays in the reader: take it and go on.
            pending += await stream.readexactly(exc.consumed)
            continue
        if pending:
            pending += chunk
            chunk, pending = bytes(pending), bytearray()
        yield chunk
