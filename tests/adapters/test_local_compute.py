"""LocalCompute passes the compute conformance suite, serializes at max_workers=1, and stop() kills."""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute import Queued, compute
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.testing.compute_suite import (
    WAIT_FOR_FILE,
    ComputeConformance,
    Recorder,
    check_cancel_while_queued,
    make_job,
    pid_alive,
    poll,
)
from deepforge_panel.adapters.testing.loop_thread import LoopThread

# Prints "ready", then waits for the file named by $GO.
WAIT_FOR_GO = WAIT_FOR_FILE + textwrap.dedent(
    """
    print("ready", flush=True)
    sys.exit(0 if wait_for_file(os.environ["GO"]) else 2)
    """
)


class TestLocalCompute(ComputeConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def adapter(cls, aio: LoopThread) -> Iterator[LocalCompute]:
        yield from aio.started(LocalCompute(max_workers=4))

    def test_cancelled_while_queued_never_runs(self, aio: LoopThread, adapter: LocalCompute, tmp_path: Path) -> None:
        aio.run(check_cancel_while_queued(adapter, tmp_path, capacity=adapter.max_workers))


def test_registered_as_local() -> None:
    adapter = compute("local", max_workers=3)
    assert isinstance(adapter, LocalCompute)
    assert adapter.max_workers == 3


def test_max_workers_defaults_to_cpu_count() -> None:
    assert LocalCompute().max_workers == (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="max_workers"):
        LocalCompute(max_workers=0)


def test_max_workers_1_serializes_jobs(tmp_path: Path) -> None:
    go_first, go_second = tmp_path / "go1", tmp_path / "go2"
    first = make_job(tmp_path / "first", WAIT_FOR_GO, env={"GO": str(go_first)})
    second = make_job(tmp_path / "second", WAIT_FOR_GO, env={"GO": str(go_second)})

    async def main() -> list[int]:
        adapter = LocalCompute(max_workers=1)
        rec_first, rec_second = Recorder(), Recorder()
        task_first = asyncio.ensure_future(adapter.run(first, rec_first))
        await rec_first.wait_for_line("stdout", "ready")
        task_second = asyncio.ensure_future(adapter.run(second, rec_second))
        await poll(lambda: rec_second.types() == [Queued], "the second job to be queued")
        # The first job holds the only slot until it may go: the second must still wait.
        assert rec_second.types() == [Queued]
        go_first.touch()
        await rec_second.wait_for_line("stdout", "ready")
        assert task_first.done()
        go_second.touch()
        return list(await asyncio.gather(task_first, task_second))

    assert asyncio.run(main()) == [0, 0]


def test_stop_kills_running_jobs_and_starts_no_queued_one(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = WAIT_FOR_FILE + textwrap.dedent(
        """
        open(os.environ["PID_FILE"], "w").write(str(os.getpid()))
        print("ready", flush=True)
        wait_for_file(os.environ["PID_FILE"] + ".never", timeout=60)
        """
    )
    job = make_job(tmp_path / "job", code, env={"PID_FILE": str(pid_file)})
    queued = make_job(tmp_path / "queued", 'print("should not run")\n')

    async def main() -> tuple[int, Recorder]:
        rec, rec_queued = Recorder(), Recorder()
        async with LocalCompute(max_workers=1) as adapter:
            task = asyncio.ensure_future(adapter.run(job, rec))
            await rec.wait_for_line("stdout", "ready")
            task_queued = asyncio.ensure_future(adapter.run(queued, rec_queued))
            await poll(lambda: rec_queued.types() == [Queued], "the second job to be queued")
        pid = int(pid_file.read_text())
        await poll(lambda: not pid_alive(pid), "the job to die")
        with pytest.raises(RuntimeError, match="stopped"):
            await asyncio.wait_for(task_queued, 10)
        return await asyncio.wait_for(task, 10), rec_queued

    exit_code, rec_queued = asyncio.run(main())
    assert exit_code == -signal.SIGTERM
    assert rec_queued.types() == [Queued]
