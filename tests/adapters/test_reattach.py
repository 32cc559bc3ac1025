"""A forked job outlives the process that started it, and another process follows it to its end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute._forkserver import available
from deepforge_panel.adapters.compute.base import JobGone, JobSpec, Limits
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.compute.messages import Stopped
from deepforge_panel.adapters.testing.compute_suite import WAIT_FOR_FILE, Recorder, make_job, pid_alive, poll
from deepforge_panel.adapters.testing.loop_thread import LoopThread

pytestmark = pytest.mark.skipif(not available(), reason="the fork server needs Linux")

DRIVER = """
import asyncio, json, sys
from pathlib import Path
from deepforge_panel.adapters.compute.base import JobSpec
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.compute.messages import Line, Started

def emit(message):
    if isinstance(message, Started):
        print(json.dumps(message.handle), flush=True)
    elif isinstance(message, Line):
        print("line", message.text, flush=True)

asyncio.run(LocalCompute(max_workers=1, reattach=True).run(JobSpec(id="kept", folder=Path(sys.argv[1])), emit))
"""

KEPT_JOB = (
    WAIT_FOR_FILE
    + """
print("before", flush=True)
wait_for_file("go")
for i in range(3):
    print(f"after {i}", flush=True)
print("to stderr", file=sys.stderr, flush=True)
os.write(int(os.environ["DEEPFORGE_EVENTS_FD"]), b'{"type": "note"}\\n')
print("unfinished", end="", flush=True)
sys.exit(3)
"""
)

SLEEPER = """
import time
print("before", flush=True)
while True:
    time.sleep(0.1)
    print("tick", flush=True)
"""


@pytest.fixture
def aio() -> Iterator[LoopThread]:
    with LoopThread() as loop:
        yield loop


def orphan(folder: Path, code: str) -> tuple[JobSpec, dict[str, Any]]:
    """A job started by a process killed (SIGKILL) once the job printed its first line; its spec and handle."""
    job = make_job(folder, code)
    with subprocess.Popen([sys.executable, "-c", DRIVER, str(folder)], stdout=subprocess.PIPE, text=True) as driver:
        try:
            assert driver.stdout is not None
            handle = json.loads(driver.stdout.readline())
            assert driver.stdout.readline() == "line before\n"
        finally:
            driver.kill()
    assert handle is not None and pid_alive(handle["pid"]), "the job goes on without the process that started it"
    return job, handle


def test_a_job_is_followed_from_where_its_workbench_died_to_its_exit_code(aio: LoopThread, tmp_path: Path) -> None:
    job, handle = orphan(tmp_path / "job", KEPT_JOB)
    (job.folder / "go").touch()
    recorder = Recorder()
    code = aio.run(LocalCompute(max_workers=1).attach(job, handle, recorder))
    assert code == 3
    assert recorder.lines("stdout") == ["after 0", "after 1", "after 2", "unfinished"]
    assert recorder.printed("stdout").endswith("after 2\nunfinished")
    assert recorder.lines("stderr") == ["to stderr"]
    assert recorder.records() == ['{"type": "note"}']
    aio.run(poll(lambda: not pid_alive(handle["server"]), "the fork server to end with its last kept job"))


def test_following_a_job_again_after_it_ended_gives_the_same(aio: LoopThread, tmp_path: Path) -> None:
    job, handle = orphan(tmp_path / "job", KEPT_JOB)
    (job.folder / "go").touch()
    aio.run(poll(lambda: not pid_alive(handle["server"]), "the job and its server to end"))
    first, again = Recorder(), Recorder()
    adapter = LocalCompute(max_workers=1)
    assert aio.run(adapter.attach(job, handle, first)) == aio.run(adapter.attach(job, handle, again)) == 3
    assert first.messages == again.messages and first.lines("stdout")[-1] == "unfinished"


def test_cancelling_the_follower_stops_the_job(aio: LoopThread, tmp_path: Path) -> None:
    job, handle = orphan(tmp_path / "job", SLEEPER)
    adapter = LocalCompute(max_workers=1)

    async def follow_then_cancel() -> None:
        recorder = Recorder()
        task = asyncio.ensure_future(adapter.attach(job, handle, recorder))
        await recorder.wait_for_line("stdout", "tick")
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    aio.run(follow_then_cancel())
    assert not pid_alive(handle["pid"])
    aio.run(poll(lambda: (job.folder / ".kept" / "exit").exists(), "the server to record how the job ended"))
    assert json.loads((job.folder / ".kept" / "exit").read_text())["code"] == -signal.SIGTERM


def test_a_followed_job_is_still_held_to_its_time_limit(aio: LoopThread, tmp_path: Path) -> None:
    job, handle = orphan(tmp_path / "job", SLEEPER)
    recorder = Recorder()
    code = aio.run(LocalCompute(max_workers=1).attach(replace(job, limits=Limits(time_s=1)), handle, recorder), 30)
    assert code == -signal.SIGTERM
    assert [m.reason for m in recorder.messages if isinstance(m, Stopped)] == ["timed out after 1 s"]


def test_a_job_that_cannot_be_followed_says_why(aio: LoopThread, tmp_path: Path) -> None:
    job, handle = orphan(tmp_path / "job", SLEEPER)
    adapter = LocalCompute(max_workers=1)
    with pytest.raises(JobGone, match="ran on elsewhere"):
        aio.run(adapter.attach(job, {**handle, "host": "elsewhere"}, Recorder()))
    os.kill(handle["server"], signal.SIGKILL)  # the server dies, then the job: nothing records how it ended
    os.killpg(handle["pid"], signal.SIGKILL)
    aio.run(poll(lambda: not pid_alive(handle["pid"]), "the job to be gone"))
    with pytest.raises(JobGone, match="how it ended is unknown"):
        aio.run(adapter.attach(job, handle, Recorder()))
    with pytest.raises(JobGone, match="cannot be followed"):
        aio.run(adapter.attach(job, {"pid": 1}, Recorder()))
