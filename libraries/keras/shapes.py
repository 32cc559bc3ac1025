"""Layer output shapes for the server, computed by a TensorFlow worker process so the server never imports it.

``ShapeChecker`` starts ``python -m deepforge_panel.libraries.keras.shape_worker`` lazily on the running
asyncio loop, keeps one request in flight and restarts the worker when it dies. A newer
request for an architecture supersedes one still queued for it; the superseded caller
receives the newer answer (the same architecture, fresher). Protocol: one JSON object
per line each way, ``{"id", "op": "check" | "ping", "architecture"}`` ->
``{"id", "shapes": {layer_id: {"shape": [...]} | {"error": str, "blocked_by"?: layer_id}}}``
or ``{"id", "error": str}``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepforge_panel.crdt import Id
from deepforge_panel.libraries.keras.architectures import Architecture, Connection, Layer

WORKER = [sys.executable, "-m", "deepforge_panel.libraries.keras.shape_worker"]

Result = dict[str, Any]
"""``{"shape": [None, 6, 6, 4]}`` or ``{"error": "...", "blocked_by": layer_id}`` for one layer."""


class ShapeCheckError(RuntimeError):
    """The worker could not answer (it crashed twice in a row, timed out, or refused the request)."""


def to_payload(arch: Architecture, *, whole: bool = False) -> dict[str, Any]:
    """The architecture as plain JSON (what the worker reads); positions and the model's input and output
    order are left out, they change no shape, unless ``whole`` (an import planned in a worker)."""
    if whole:
        payload = to_payload(arch)
        for lid, layer in arch.layers.items():
            payload["layers"][lid].update(x=layer.x, y=layer.y)
        payload["inputs"] = None if arch.inputs is None else list(arch.inputs)
        payload["outputs"] = None if arch.outputs is None else [list(ref) for ref in arch.outputs]
        return payload
    return {
        "id": arch.id,
        "name": arch.name,
        "layers": {lid: _layer_payload(layer) for lid, layer in arch.layers.items()},
        "connections": {
            cid: {"src": c.src, "dst": c.dst, "index": c.index, **({} if c.output is None else {"output": c.output})}
            for cid, c in arch.connections.items()
        },
        "functions": dict(arch.functions),
    }


def _layer_payload(layer: Layer) -> dict[str, Any]:
    extra = {"shares": layer.shares, "config": layer.config, "call": layer.call}
    return {
        "name": layer.name,
        "type": layer.type,
        "args": layer.args,
        **{k: v for k, v in extra.items() if v is not None},
    }


def from_payload(payload: Mapping[str, Any]) -> Architecture:
    """The worker's side of :func:`to_payload`; connections to missing layers are dropped."""
    layers = {
        Id(lid): Layer(
            Id(lid),
            layer["name"],
            layer["type"],
            dict(layer.get("args") or {}),
            float(layer.get("x") or 0.0),
            float(layer.get("y") or 0.0),
            shares=layer.get("shares"),
            config=layer.get("config"),
            call=layer.get("call"),
        )
        for lid, layer in (payload.get("layers") or {}).items()
    }
    connections = {
        Id(cid): Connection(
            Id(cid), c["src"], c["dst"], int(c.get("index") or 0), None if c.get("output") is None else int(c["output"])
        )
        for cid, c in (payload.get("connections") or {}).items()
        if c.get("src") in layers and c.get("dst") in layers
    }
    inputs, outputs = payload.get("inputs"), payload.get("outputs")
    return Architecture(
        Id(payload.get("id") or ""),
        payload.get("name") or "",
        layers,
        connections,
        dict(payload.get("functions") or {}),
        None if inputs is None else tuple(Id(i) for i in inputs),
        None if outputs is None else tuple((Id(i), None if n is None else int(n)) for i, n in outputs),
    )


def format_shape(shape: Any) -> str:
    """``[None, 6, 6, 4]`` -> ``(None, 6, 6, 4)``; several outputs are listed with commas."""
    if shape and isinstance(shape[0], list):
        return ", ".join(format_shape(s) for s in shape)
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


@dataclass
class _Request:
    message: dict[str, Any]
    waiters: list[asyncio.Future[dict[str, Any]]] = field(default_factory=list)


class ShapeChecker:
    """Asks the shape worker for every layer's output shape, without blocking the event loop."""

    def __init__(self, command: Sequence[str] | None = None, *, timeout: float = 120.0) -> None:
        self.command = list(command or WORKER)
        self.timeout = timeout
        self.starts = 0
        """How many worker processes this checker has started (1 + restarts)."""
        self._process: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: collections.OrderedDict[str, _Request] = collections.OrderedDict()
        self._runner: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=30)
        self._next_id = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.returncode is None else None

    async def check(self, arch: Architecture | Mapping[str, Any], key: str | None = None) -> dict[str, Result]:
        """Each layer's output shape or error, by layer id; ``key`` (default: the architecture id) groups superseding requests."""
        payload = to_payload(arch) if isinstance(arch, Architecture) else dict(arch)
        key = key if key is not None else f"architecture:{payload.get('id') or ''}"
        reply = await self._submit(key, {"op": "check", "architecture": payload})
        return reply["shapes"]

    async def ping(self) -> None:
        """Start the worker (if needed) and wait until it has imported Keras and answers."""
        await self._submit("ping", {"op": "ping"})

    async def close(self) -> None:
        """Stop the worker; queued checks fail. The checker may be used again afterwards, on any loop."""
        runner, self._runner = self._runner, None
        for request in self._queue.values():
            for waiter in request.waiters:
                if not waiter.done():
                    waiter.set_exception(ShapeCheckError("the shape checker was closed"))
        self._queue.clear()
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        await self._stop()
        self._loop = None

    # -- internals -------------------------------------------------------------------------
    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("this ShapeChecker runs on another event loop; await close() there first")
        return loop

    async def _submit(self, key: str, message: dict[str, Any]) -> dict[str, Any]:
        """Queue ``message`` under ``key`` (replacing a queued one with the same key) and await its reply."""
        loop = self._bind()
        waiter: asyncio.Future[dict[str, Any]] = loop.create_future()
        queued = self._queue.get(key)
        if queued is None:
            self._queue[key] = _Request(message, [waiter])
        else:
            queued.message = message
            queued.waiters.append(waiter)
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._drain())
        return await waiter

    async def _drain(self) -> None:
        while self._queue:
            _key, request = self._queue.popitem(last=False)
            try:
                reply = await self._ask(request.message)
            except Exception as exc:  # noqa: BLE001 - every waiter learns why
                for waiter in request.waiters:
                    if not waiter.done():
                        waiter.set_exception(exc if isinstance(exc, ShapeCheckError) else ShapeCheckError(str(exc)))
                continue
            for waiter in request.waiters:
                if not waiter.done():
                    waiter.set_result(reply)

    async def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and read its reply; a dead worker is restarted once and asked again."""
        for attempt in (1, 2):
            process = await self._ensure()
            self._next_id += 1
            request_id = self._next_id
            try:
                assert process.stdin is not None and process.stdout is not None
                process.stdin.write((json.dumps({"id": request_id, **message}) + "\n").encode())
                await process.stdin.drain()
                while True:
                    line = await asyncio.wait_for(process.stdout.readline(), self.timeout)
                    if not line:
                        raise ConnectionResetError("the shape worker exited")
                    with contextlib.suppress(ValueError):
                        reply = json.loads(line)
                        if isinstance(reply, dict) and reply.get("id") == request_id:
                            break
            except (ConnectionError, BrokenPipeError) as exc:
                await self._stop()
                if attempt == 2:
                    raise ShapeCheckError(
                        f"the shape worker died twice ({exc}); its last words:\n{self._tail()}"
                    ) from None
                continue
            except TimeoutError:
                await self._stop()
                raise ShapeCheckError(f"the shape worker gave no answer within {self.timeout:g} s") from None
            if "error" in reply:
                raise ShapeCheckError(f"the shape worker refused the request: {reply['error']}")
            return reply
        raise AssertionError("unreachable")

    def _tail(self) -> str:
        return "\n".join(self._stderr_tail) or "(nothing on stderr)"

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None:
            return self._process
        await self._stop()
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            "CUDA_VISIBLE_DEVICES": "-1",  # shapes need no GPU; leave it to the jobs
        }
        self._process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=64 * 1024 * 1024,
        )
        self.starts += 1
        self._stderr_tail.clear()
        self._stderr_task = asyncio.get_running_loop().create_task(self._read_stderr(self._process))
        return self._process

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            self._stderr_tail.append(line.decode(errors="replace").rstrip())

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await process.wait()
            if process.stdin is not None:
                process.stdin.close()
                with contextlib.suppress(ConnectionError, BrokenPipeError):
                    await process.stdin.wait_closed()
        task, self._stderr_task = self._stderr_task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task


_shared: ShapeChecker | None = None


def shared_checker() -> ShapeChecker:
    """The server's one checker (one worker per server process, shared by every session)."""
    global _shared
    if _shared is None:
        _shared = ShapeChecker()
    return _shared
