"""DaskCompute on a real LocalCluster passes the compute conformance suite; stop() kills its jobs."""

from __future__ import annotations

import asyncio
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute import JobSpec, Line, compute
from deepforge_panel.adapters.compute._dask_worker import read_folder, write_folder
from deepforge_panel.adapters.compute.dask import DaskCompute
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


class TestDaskCompute(ComputeConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def adapter(cls, aio: LoopThread) -> Iterator[DaskCompute]:
        yield from aio.started(DaskCompute(n_workers=2))

    def test_cancelled_while_queued_never_runs(self, aio: LoopThread, adapter: DaskCompute, tmp_path: Path) -> None:
        aio.run(check_cancel_while_queued(adapter, tmp_path, capacity=adapter.n_workers))

    def test_stop_kills_running_jobs_of_a_client_on_an_address(
        self, aio: LoopThread, adapter: DaskCompute, tmp_path: Path
    ) -> None:
        pid_file = tmp_path / "pid"
        code = WAIT_FOR_FILE + textwrap.dedent(
            """
            open(os.environ["PID_FILE"], "w").write(str(os.getpid()))
            print("ready", flush=True)
            wait_for_file(os.environ["PID_FILE"] + ".never", timeout=60)
            """
        )
        job = make_job(tmp_path / "job", code, env={"PID_FILE": str(pid_file)})

        async def main() -> int:
            rec = Recorder()
            second = DaskCompute(address=adapter.client.scheduler.address)
            async with second:
                task = asyncio.ensure_future(second.run(job, rec))
                await rec.wait_for_line("stdout", "ready")
            pid = int(pid_file.read_text())
            await poll(lambda: not pid_alive(pid), "the job to die")
            return await asyncio.wait_for(task, 10)

        assert aio.run(main()) == -signal.SIGTERM


def test_registered_as_dask() -> None:
    adapter = compute("dask", address="tcp://127.0.0.1:1", n_workers=1)
    assert isinstance(adapter, DaskCompute)


def test_job_files_cannot_escape_the_job_folder(tmp_path: Path) -> None:
    write_folder(tmp_path, {"ok/main.py": b"x"})
    assert (tmp_path / "ok" / "main.py").read_bytes() == b"x"
    with pytest.raises(ValueError, match="outside the job folder"):
        write_folder(tmp_path / "inner", {"../evil.py": b"x"})


def test_a_missing_job_folder_is_refused_before_shipping(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_folder(tmp_path / "missing")


def test_run_before_start_starts_the_cluster_on_demand(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('ran')\n")
    job = JobSpec(id="x", folder=tmp_path)

    async def go() -> tuple[int, Recorder]:
        adapter, recorder = DaskCompute(n_workers=1), Recorder()
        try:
            return await adapter.run(job, recorder), recorder
        finally:
            await adapter.stop()

    code, recorder = asyncio.run(go())
    assert code == 0 and [m.text for m in recorder.messages if isinstance(m, Line)] == ["ran"]
    with pytest.raises(RuntimeError, match="not started"):
        _ = DaskCompute().client
