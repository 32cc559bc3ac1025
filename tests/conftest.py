"""Shared fixtures and helpers: wait on conditions with a deadline, never with a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, message: str = "") -> Any:
    """Poll ``condition`` until truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {message or condition}")
        time.sleep(interval)


async def async_wait_until(condition: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {message or condition}")
        await asyncio.sleep(0.02)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


BUCKET = "deepforge-test"


@pytest.fixture(scope="session")
def s3_options() -> Iterator[dict[str, Any]]:
    """A real S3-compatible server (moto's server mode) on a free loopback port, with one bucket.

    Yields the fsspec storage options that reach it.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": f"http://{host}:{port}"}}
    import s3fs

    s3fs.S3FileSystem(skip_instance_cache=True, **options).mkdir(BUCKET)
    try:
        yield options
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    """One event loop per test module, so a shape worker stays warm from test to test."""
    with asyncio.Runner() as loop_runner:
        yield loop_runner


@pytest.fixture(scope="module")
def checker(runner: asyncio.Runner) -> Iterator[Any]:
    """A Keras shape checker (its worker process started on first use), closed after the module."""
    from deepforge_panel.libraries.keras.shapes import ShapeChecker

    shapes = ShapeChecker()
    yield shapes
    runner.run(shapes.close())
