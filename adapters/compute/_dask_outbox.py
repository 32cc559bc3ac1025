"""Send a job's messages from a Dask worker to the client's queue in order, batched for throughput."""

from __future__ import annotations

import queue
import threading
from typing import Any

from deepforge_panel.adapters.compute._dask_wire import size

__all__ = ["Outbox"]

# A batch stops growing past this many characters of text (one long line or record still goes alone).
_BATCH_CHARS = 8 * 1024 * 1024
_BATCH_MESSAGES = 5000


class Outbox:
    """Messages put from any thread go out in order, as ``{"type": "batch", "messages": [...]}``.

    One sender thread does the (blocking, round-trip) ``Queue.put`` calls, taking everything that
    piled up meanwhile, so a chatty job costs one scheduler call per batch instead of per line.
    """

    def __init__(self, out: Any) -> None:
        self.out = out
        self._pending: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_all, name="deepforge-outbox", daemon=True)
        self._sender.start()
        self.error: BaseException | None = None

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the client; returns at once."""
        self._pending.put(message)

    def close(self) -> None:
        """Send everything queued so far, then stop the sender."""
        self._pending.put(None)
        self._sender.join()

    def _send_all(self) -> None:
        """Sender thread: put batches until ``close``; after a failed put, drop the rest."""
        closing = False
        while not closing:
            batch: list[dict[str, Any]] = []
            chars = 0
            message = self._pending.get()
            while True:
                if message is None:
                    closing = True
                    break
                batch.append(message)
                chars += size(message)
                if chars >= _BATCH_CHARS or len(batch) >= _BATCH_MESSAGES:
                    break
                try:
                    message = self._pending.get_nowait()
                except queue.Empty:
                    break
            if batch and self.error is None:
                try:
                    self.out.put({"type": "batch", "messages": batch})
                except Exception as exc:  # noqa: BLE001 - the client is gone; nobody to tell
                    self.error = exc
