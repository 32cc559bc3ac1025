"""Workbench servers for tests: ``deepforge-panel serve`` in a subprocess on a free loopback port, with its own home."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``deepforge-panel serve`` in a subprocess on a free loopback port."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = home.parent / f"server-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self) -> None:
        """Start the server (again, after :meth:`kill`, on the same port and home)."""
        home = self.home
        before = self.log.read_text().count("is running at") if self.log.exists() else 0
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deepforge_panel.cli", "serve", "--home", str(home), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        deadline = time.monotonic() + 60
        while self.log.read_text().count("is running at") <= before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.token = (home / "token").read_text(encoding="utf-8").strip()
        """Every route needs it; a tab gets it as the cookie a first visit with ?token= sets."""

    def sign_in(self, context: Any, name: str = "tester", color: str = "#2ca02c") -> None:
        """Give a browser context the sign-in cookie, as the printed ``?token=`` link does on a first visit,
        and a chosen name and color, as a browser that was asked once has (tests/browser/test_identity.py)."""
        from urllib.parse import quote

        from deepforge_panel.auth import COOKIE
        from deepforge_panel.components.identity import USER_COOKIE

        user = quote(json.dumps({"name": name, "color": color}))
        context.add_cookies(
            [
                {"name": COOKIE, "value": self.token, "url": self.url, "httpOnly": True},
                {"name": USER_COOKIE, "value": user, "url": self.url},
            ]
        )

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
