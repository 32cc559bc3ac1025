"""Read a ``distributed.Queue`` from the client without ever losing a message to cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Inbox"]

# Put by the client itself to wake its own pending read when no more messages will come.
CLOSED: dict[str, Any] = {"type": "closed"}


class Inbox:
    """Messages of one job's queue, fetched by at most one read in flight that outlives cancellation.

    A cancelled ``Queue.get`` RPC may already have taken a message off the scheduler's queue, so the
    read runs as its own task, shielded: a later ``next`` picks up that same read.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self._pending: asyncio.Future[list[dict[str, Any]]] | None = None

    async def next(self) -> list[dict[str, Any]]:
        """The next messages in order (at least one), waiting as long as it takes."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._fetch())
        batch = await asyncio.shield(self._pending)
        self._pending = None
        return batch

    async def close(self) -> list[dict[str, Any]]:
        """Wake the pending read, if any, and return what was still queued before the wake-up."""
        if self._pending is None and not await self.queue.qsize():
            return []
        await self.queue.put(CLOSED)
        rest: list[dict[str, Any]] = []
        while True:
            for message in await self.next():
                if message["type"] == CLOSED["type"]:
                    return rest
                rest.append(message)

    async def _fetch(self) -> list[dict[str, Any]]:
        """One blocking get, then whatever else is already waiting (no timeouts: they log errors)."""
        first = await self.queue.get()
        rest = await self.queue.get(batch=True)
        messages: list[dict[str, Any]] = []
        for item in [first, *rest]:
            messages.extend(item["messages"] if item["type"] == "batch" else [item])
        return messages
