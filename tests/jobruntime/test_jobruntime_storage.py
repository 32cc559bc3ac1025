"""The job runtime's artifact cache: inputs from S3 fetched once per machine, bounded, least recently used first.

The S3 server is moto's, served here behind a WSGI layer that counts the object reads it answers, so the tests
count real requests, made by real job processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.jobruntime.deepforge import storage as job_storage
from deepforge_panel.orchestrator import Orchestrator
from tests.deepforge_panel.helpers import new_project
from tests.deepforge_panel.test_orchestrator import _chain


class _Counting:
    """WSGI middleware counting GET requests per path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gets: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "GET":
            with self.lock:
                self.gets[environ.get("PATH_INFO", "")] += 1
        return self.app(environ, start_response)


@pytest.fixture
def counted_s3() -> Iterator[tuple[dict[str, Any], _Counting]]:
    """A moto S3 server on loopback whose object reads are counted; (fsspec options, the counter)."""
    import s3fs
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    counting = _Counting(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{server.server_port}"},
    }
    s3fs.S3FileSystem(skip_instance_cache=True, **options).mkdir("counted")
    try:
        yield options, counting
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _object_reads(counting: _Counting, prefix: str) -> int:
    return sum(n for path, n in counting.gets.items() if path.startswith(f"/counted/{prefix}/"))


def test_a_chain_of_jobs_and_a_second_run_fetch_nothing_back_from_s3(
    tmp_path: Path, counted_s3: tuple[dict[str, Any], _Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    options, counting = counted_s3
    monkeypatch.setenv(job_storage.CACHE_ENV, str(tmp_path / "cache"))
    project = new_project(tmp_path)
    _chain(project)
    prefix = uuid.uuid4().hex
    orchestrator = Orchestrator(
        project, compute("local"), storage(f"s3://counted/{prefix}", **options), tmp_path / "jobs"
    )
    first = asyncio.run(orchestrator.run("chain", cache=False))
    assert first.status == "succeeded", {j.name: j.error for j in first.jobs.values()}
    assert _object_reads(counting, prefix) == 0, "each output went into this machine's cache as it was stored"
    again = asyncio.run(orchestrator.run("chain", cache=False))
    assert again.status == "succeeded"
    assert _object_reads(counting, prefix) == 0, "the second run's inputs come from the cache"

    for entry in (tmp_path / "cache").iterdir():
        entry.unlink()  # another machine, whose cache is empty
    total = project.artifacts.get(again.job("d").outputs["total"])
    for _ in range(3):
        assert job_storage.fetch(total.url, options, total.hash)
    assert _object_reads(counting, prefix) == 1, "fetched once, then taken from the cache"


def test_the_cache_keeps_to_its_limit_dropping_the_least_recently_used(
    tmp_path: Path, s3_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(job_storage.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(job_storage.CACHE_LIMIT_ENV, str(2.5 / 1024))  # 2.5 KiB: two 1 KiB entries fit
    root = f"s3://deepforge-test/{uuid.uuid4().hex}"
    stored = [job_storage.put_content(root, s3_options, os.urandom(1024)) for _ in range(2)]
    cache = tmp_path / "cache"
    assert sorted(p.name for p in cache.iterdir()) == sorted(digest for _, digest, _ in stored)

    old = time.time() - 60
    os.utime(cache / stored[0][1], (old, old))
    os.utime(cache / stored[1][1], (old - 60, old - 60))
    job_storage.fetch(stored[1][0], s3_options, stored[1][1])  # used now: the first one is the least recent
    third = job_storage.put_content(root, s3_options, os.urandom(1024))
    assert sorted(p.name for p in cache.iterdir()) == sorted([stored[1][1], third[1]])

    (cache / third[1]).write_bytes(b"damaged")
    data = job_storage.fetch(third[0], s3_options, third[1])
    assert hashlib.sha256(data).hexdigest() == third[1], "a damaged entry is fetched again, not used"
