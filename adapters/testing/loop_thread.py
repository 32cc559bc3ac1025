"""An asyncio loop on a background thread, so async adapters can be shared by sync pytest tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from deepforge_panel.adapters.compute import ComputeAdapter

T = TypeVar("T")
C = TypeVar("C", bound=ComputeAdapter)


class LoopThread:
    """Runs one event loop for a whole test class; ``run`` executes a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)

    def __enter__(self) -> LoopThread:
        self.thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run ``coro`` on the loop; cancel it and fail if it takes longer than ``timeout``."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(f"coroutine did not finish within {timeout} s") from None

    def started(self, adapter: C) -> Iterator[C]:
        """Fixture body: start ``adapter`` on the loop, yield it, stop it afterwards."""
        self.run(adapter.start())
        try:
            yield adapter
        finally:
            self.run(adapter.stop())
