"""A notebook session's interpreter: runs cells one at a time in one namespace, reporting on the events channel.

Started as a job through a compute adapter (local process or Dask worker), with a ``JobControl``:
commands arrive as JSON lines on stdin, everything it reports goes out as events (one JSON record
per line on its own channel, :mod:`.feedback`), in order, so a cell's output is never mixed with
another's. Commands:

``{"op": "run", "id": RUN, "code": CODE, "label": NAME}``  run a cell; ``label`` names it in tracebacks
``{"op": "reply", ...}``  the answer to a request the running cell made (``artifacts.load``)

Every cell has ``artifacts`` and ``explorer`` (:mod:`.explore`) without an import: ``artifacts.load(name)`` asks the workbench where that
artifact is (a ``request`` event, answered on stdin) and reads it from the project's storage;
``artifacts.save(value, name)`` writes it there (content-addressed, as jobs write outputs) and reports
a ``saved`` event, from which the workbench records the artifact with the cells that made it.

Events: ``{"type": "ready"}`` once, then per run ``{"type": "stream", "id", "name", "text"}`` (stdout and
stderr, coalesced), ``{"type": "figure", "id", "figure"}`` (figures the cell drew, as jobs stream
them), ``{"type": "result", "id", "text", "html", "png"}`` (the last expression's value),
``{"type": "embedding", "id", "name", "method", "points"}`` (``explorer.show``),
``{"type": "error", "id", "ename", "evalue", "traceback"}`` and last ``{"type": "done", "id",
"status": "ok" | "error" | "interrupted", "truncated": N}``. SIGINT (the control's interrupt) stops
the running cell with status "interrupted" and keeps the namespace; between cells it is ignored.

This module imports only the standard library at start; matplotlib is touched only if a cell used it.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, TextIO

from . import feedback, serialization, storage
from .explore import Explorer

STORAGE_ENV = "DEEPFORGE_SESSION_STORAGE"
"""The storage root a session saves artifacts under (its fsspec options in ``storage.OPTIONS_ENV``)."""

STREAM_LIMIT = 1_000_000
"""Characters of stdout plus stderr a cell may send; past it the rest is counted, not sent."""
FLUSH_S = 0.05
"""How long printed text may wait before it is sent (it goes at once when the buffer grows large)."""
FLUSH_CHARS = 64 * 1024


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` during a cell: text goes out as stream events, coalesced and bounded."""

    def __init__(self, cell: _Cell, name: str) -> None:
        self.cell, self.name = cell, name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.cell.write(self.name, text)
        return len(text)

    def flush(self) -> None:
        self.cell.flush()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _Cell:
    """The output of the running cell: buffered per stream, flushed every :data:`FLUSH_S` or when large."""

    def __init__(self, run_id: str) -> None:
        self.id = run_id
        self.sent = 0
        self.dropped = 0
        self._buffer: list[tuple[str, str]] = []
        self._size = 0
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def write(self, name: str, text: str) -> None:
        if not text:
            return
        with self._lock:
            room = STREAM_LIMIT - self.sent - self._size
            if room <= 0:
                self.dropped += len(text)
                return
            if len(text) > room:
                self.dropped += len(text) - room
                text = text[:room]
            if self._buffer and self._buffer[-1][0] == name:
                self._buffer[-1] = (name, self._buffer[-1][1] + text)
            else:
                self._buffer.append((name, text))
            self._size += len(text)
            due = self._size >= FLUSH_CHARS or time.monotonic() - self._last >= FLUSH_S
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._buffer = self._buffer, []
            self.sent += self._size
            self._size = 0
            self._last = time.monotonic()
        for name, text in pending:
            feedback.emit({"type": "stream", "id": self.id, "name": name, "text": text})


def _display(value: Any) -> dict[str, Any]:
    """How a value is shown: its text repr, and HTML or a PNG where the value offers one."""
    shown: dict[str, Any] = {"text": _safe(repr, value), "html": None, "png": None}
    for attr, key in (("_repr_html_", "html"), ("_repr_png_", "png")):
        method = getattr(value, attr, None)
        if callable(method):
            with contextlib.suppress(Exception):
                data = method()
                if key == "png" and isinstance(data, bytes):
                    data = base64.b64encode(data).decode("ascii")
                if isinstance(data, str):
                    shown[key] = data
    return shown


def _safe(function: Any, value: Any) -> str:
    try:
        return str(function(value))
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not fail the cell
        return f"<{type(value).__name__} object (its repr failed: {exc!r})>"


class ArtifactError(Exception):
    """An artifact that cannot be loaded or saved; the message says why."""


class Artifacts:
    """``artifacts`` in every cell: load the project's artifacts, save values as new ones."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def load(self, name: str) -> Any:
        """The value of the project's artifact ``name`` (or id); the newest of that name."""
        reply = self._kernel.ask({"op": "load", "name": str(name)})
        if "error" in reply:
            raise ArtifactError(reply["error"])
        data = storage.fetch(reply["url"], storage.options_from_environment(), reply.get("hash"))
        return serialization.loads(data)

    def save(self, value: Any, name: str) -> str:
        """Store ``value`` as a new artifact ``name`` of the project; returns its content hash."""
        root = os.environ.get(STORAGE_ENV)
        if not root:
            raise ArtifactError("this session has no storage to save artifacts in")
        data = serialization.dumps(value)
        url, digest, size = storage.put_content(root, storage.options_from_environment(), data)
        feedback.emit(
            {
                "type": "saved",
                "id": self._kernel.current,
                "name": str(name),
                "url": url,
                "hash": digest,
                "size": size,
                "datatype": serialization.type_name(value),
            }
        )
        return digest

    def __repr__(self) -> str:
        return "artifacts (load(name), save(value, name))"


class Kernel:
    """The namespace and the loop: read a command, run it, report; until stdin ends."""

    def __init__(self, commands: TextIO) -> None:
        self.commands = commands
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        self.namespace["artifacts"] = Artifacts(self)
        self.namespace["explorer"] = Explorer(self.show)
        self.count = 0
        self.running = False
        self.current = ""
        """The id of the run in progress."""
        self.cell: _Cell | None = None
        """The output buffer of the run in progress."""

    def show(self, output: dict[str, Any]) -> None:
        """Send an output of the running cell after what it printed so far (``explorer.show``'s embedding)."""
        if self.cell is not None:
            self.cell.flush()
        feedback.emit({**output, "id": self.current})

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send the workbench a request for the running cell and wait for its reply on stdin."""
        feedback.emit({"type": "request", "id": self.current, **request})
        line = self.commands.readline()
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict) or reply.get("op") != "reply":
            raise ArtifactError(f"the workbench did not answer the request (got {line[:100]!r})")
        return reply

    def serve(self) -> None:
        signal.signal(signal.SIGINT, self._on_interrupt)
        feedback.emit({"type": "ready"})
        while True:
            try:
                line = self.commands.readline()
            except KeyboardInterrupt:  # an interrupt that came between cells: nothing to stop
                continue
            if not line:
                return
            try:
                command = json.loads(line)
            except ValueError:
                feedback.emit({"type": "protocol", "error": f"not a JSON command: {line[:200]!r}"})
                continue
            if command.get("op") == "run":
                self.run(str(command.get("id", "")), str(command.get("code", "")), str(command.get("label") or "cell"))

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        if self.running:
            raise KeyboardInterrupt

    def run(self, run_id: str, code: str, label: str) -> None:
        self.count += 1
        self.current = run_id
        cell = self.cell = _Cell(run_id)
        filename = f"<cell {label}>"
        status = "ok"
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(cell, "stdout"), _Stream(cell, "stderr")
        self.running = True
        try:
            try:
                tree = ast.parse(code, filename, "exec")
            except SyntaxError as exc:
                status = "error"
                sys.stdout, sys.stderr = saved
                cell.flush()
                where = f"line {exc.lineno}, column {exc.offset}" if exc.lineno else "here"
                feedback.emit(
                    {
                        "type": "error",
                        "id": run_id,
                        "ename": "SyntaxError",
                        "evalue": f"{where}: {exc.msg}",
                        "traceback": "".join(traceback.format_exception_only(type(exc), exc)),
                    }
                )
                return
            _register(filename, code)
            quiet = code.rstrip().endswith(";")  # as in IPython: a trailing semicolon hides the value
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) and not quiet else None
            assert last is None or isinstance(last, ast.Expr)
            exec(compile(tree, filename, "exec"), self.namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), filename, "eval"), self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    cell.flush()
                    feedback.emit({"type": "result", "id": run_id, **_display(value)})
        except KeyboardInterrupt:
            status = "interrupted"
        except BaseException as exc:  # noqa: BLE001 - a cell's exception (SystemExit too) is its output
            status = "error"
            cell.flush()
            feedback.emit(
                {
                    "type": "error",
                    "id": run_id,
                    "ename": type(exc).__name__,
                    "evalue": _safe(str, exc),
                    "traceback": _cell_traceback(exc, filename),
                }
            )
        finally:
            self.running = False
            sys.stdout, sys.stderr = saved
            with contextlib.suppress(Exception):
                cell.flush()
                _publish_figures(run_id)
            feedback.emit({"type": "done", "id": run_id, "status": status, "truncated": cell.dropped})


def _register(filename: str, code: str) -> None:
    """Let tracebacks show the cell's lines (``linecache`` knows no file by this name)."""
    import linecache

    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)


def _cell_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the cell's own frames on (the kernel's frames left out), cell line numbers included."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, frame in enumerate(frames) if frame.filename == filename), 0)
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames[start:])]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _publish_figures(run_id: str) -> None:
    """Send the figures the cell left open (those already sent unchanged are not sent again), then close
    them, as an inline backend does; the figure's describer is the one jobs stream figures with."""
    if "matplotlib.pyplot" not in sys.modules:
        return
    from matplotlib import pyplot
    from matplotlib._pylab_helpers import Gcf

    from .mpl_backend import publish

    for manager in Gcf.get_all_fig_managers():
        publish(manager.canvas.figure, str(manager.num))
    pyplot.close("all")


def main() -> None:
    """Run the session: commands on stdin until it ends."""
    Kernel(sys.stdin).serve()
