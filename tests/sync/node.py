"""Drive ``js/client.js``, a real y-websocket client in Node, from Python: commands in, JSON events out.

Every wait has a deadline; :func:`require_node_modules` fails a test with the command that installs
the pinned packages when they are missing.
"""

from __future__ import annotations

import itertools
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).parent / "js"
CLIENT = JS / "client.js"


def require_node_modules() -> None:
    """Fail (not skip: CI must run these) when Node or the pinned npm packages are missing."""
    if shutil.which("node") is None:
        pytest.fail("node is missing: the sync tests need Node.js (https://nodejs.org or apt-get install nodejs)")
    if not (JS / "node_modules" / "y-websocket").is_dir():
        pytest.fail(f"the Node packages are missing: run ./scripts/setup-node (npm ci in {JS})")


class NodeClient:
    """One ``WebsocketProvider`` in its own Node process, on room ``room`` of ``url`` (``ws://HOST:PORT/sync``)."""

    def __init__(self, url: str, room: str, token: str | None = None) -> None:
        self.process = subprocess.Popen(
            ["node", str(CLIENT), url, room, *([token] if token else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=JS,
        )
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ids = itertools.count()
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self._queue.put(json.loads(line))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def expect(self, match: Callable[[dict[str, Any]], bool], timeout: float = 15.0, what: str = "") -> dict[str, Any]:
        """The first event (seen before or arriving within ``timeout`` s) that ``match`` accepts."""
        for event in self.events:
            if match(event):
                return event
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                event = self._queue.get(timeout=max(left, 0.001))
            except queue.Empty:
                event = None
                if left <= 0:
                    raise AssertionError(
                        f"node client: no {what or 'matching event'} within {timeout}s; events: {self.events[-10:]},"
                        f" stderr: {''.join(self.stderr)[-2000:]}"
                    ) from None
                continue
            if event is None:
                raise AssertionError(f"node client exited ({self.process.poll()}): {''.join(self.stderr)[-2000:]}")
            self.events.append(event)
            if match(event):
                return event

    def call(self, op: str, timeout: float = 15.0, **args: Any) -> dict[str, Any]:
        """Run one command and return its answer (a failed command fails the test)."""
        command_id = next(self._ids)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": command_id, "op": op, **args}) + "\n")
        self.process.stdin.flush()
        answer = self.expect(
            lambda e: e.get("event") == "done" and e.get("id") == command_id, timeout, f"answer to {op}"
        )
        if "error" in answer:
            raise AssertionError(f"node client: {op} failed: {answer['error']}")
        return answer

    def synced(self, timeout: float = 15.0) -> None:
        self.expect(lambda e: e.get("event") == "synced", timeout, "sync")

    def dump(self, *roots: str) -> dict[str, Any]:
        return self.call("dump", roots=list(roots))["doc"]

    def wait_for(
        self, condition: Callable[[dict[str, Any]], Any], *roots: str, timeout: float = 15.0
    ) -> dict[str, Any]:
        """Poll the client's document (``roots`` as JSON) until ``condition`` holds; the last dump."""
        deadline = time.monotonic() + timeout
        while True:
            doc = self.dump(*roots)
            if condition(doc):
                return doc
            if time.monotonic() > deadline:
                raise AssertionError(f"node client: condition not met within {timeout}s; document: {doc}")
            time.sleep(0.02)

    def close(self) -> None:
        """End the client (its provider is destroyed when stdin closes) and release its pipes."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for reader in self._readers:
            reader.join(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
