"""Jobs forked from the local adapter's fork server are the processes ``python main.py`` would be, only faster."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from deepforge_panel.adapters.compute._forkserver import GONE_CODE, available
from deepforge_panel.adapters.compute.base import JobSpec, Limits
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.compute.messages import Stopped
from deepforge_panel.adapters.testing.compute_suite import WAIT_FOR_FILE, Recorder, make_job, pid_alive, poll
from deepforge_panel.adapters.testing.loop_thread import LoopThread

pytestmark = pytest.mark.skipif(not available(), reason="the fork server needs Linux")

DESCRIBE = """
import json, os, sys
print(json.dumps({
    "preloaded": "decimal" in sys.modules,
    "mark": getattr(sys.modules.get("decimal"), "MARK", None),
    "path0": sys.path[0],
    "argv": sys.argv,
    "file": __file__,
    "cwd": os.getcwd(),
    "own_group": os.getpgid(0) == os.getpid(),
    "env": os.environ.get("JOB_VALUE"),
    "unbuffered": os.environ.get("PYTHONUNBUFFERED"),
    "main": __name__,
}))
import decimal
decimal.MARK = os.getpid()  # a job changing a module the server imported ahead: the next job must not see it
"""


@pytest.fixture
def aio() -> Iterator[LoopThread]:
    with LoopThread() as loop:
        yield loop


@pytest.fixture
def forking(aio: LoopThread) -> Iterator[LocalCompute]:
    yield from aio.started(LocalCompute(max_workers=2, fork=True))


def run(aio: LoopThread, adapter: LocalCompute, job: JobSpec) -> tuple[int, Recorder]:
    recorder = Recorder()
    code = aio.run(adapter.run(job, recorder))
    return code, recorder


def start(aio: LoopThread, adapter: LocalCompute, job: JobSpec, recorder: Recorder) -> Future[int]:
    """Run ``job`` without waiting for it."""
    return asyncio.run_coroutine_threadsafe(adapter.run(job, recorder), aio.loop)


def until(aio: LoopThread, predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    aio.run(poll(predicate, what, timeout))


def test_a_forked_job_is_set_up_as_python_main_py_would_be(
    aio: LoopThread, forking: LocalCompute, tmp_path: Path
) -> None:
    seen = []
    for name in ("first", "second"):
        job = replace(make_job(tmp_path / name, DESCRIBE, env={"JOB_VALUE": name}), preload=("decimal",))
        code, recorder = run(aio, forking, job)
        assert code == 0, recorder.printed("stderr")
        seen.append(json.loads(recorder.lines("stdout")[0]))
    for name, facts in zip(("first", "second"), seen, strict=True):
        folder = str((tmp_path / name).resolve())
        assert facts["preloaded"] is True  # imported ahead, by the server
        assert facts["mark"] is None  # what the first job did to it stayed in the first job
        assert facts["path0"] == folder and facts["cwd"] == folder
        assert facts["argv"] == ["main.py"] and facts["file"] == os.path.join(folder, "main.py")
        assert facts["own_group"] is True and facts["main"] == "__main__"
        assert facts["env"] == name and facts["unbuffered"] == "1"


def test_forked_jobs_draw_their_own_random_numbers(aio: LoopThread, forking: LocalCompute, tmp_path: Path) -> None:
    code = "import numpy\nprint(numpy.random.random())\n"
    draws = []
    for name in ("a", "b"):
        exit_code, recorder = run(aio, forking, replace(make_job(tmp_path / name, code), preload=("numpy",)))
        assert exit_code == 0, recorder.printed("stderr")
        draws.append(recorder.lines("stdout")[0])
    assert draws[0] != draws[1]


def test_a_forked_job_ends_as_the_script_would(aio: LoopThread, forking: LocalCompute, tmp_path: Path) -> None:
    """Its non-daemon threads finish, atexit handlers run, unflushed output arrives, the exit code is the script's."""
    code = """
        import atexit, sys, threading, time
        from pathlib import Path
        atexit.register(lambda: print("atexit ran"))
        def late():
            time.sleep(0.3)
            Path("late.txt").write_text("written")
        threading.Thread(target=late).start()
        sys.stdout.write("no newline")
        sys.exit("failed on purpose")
    """
    exit_code, recorder = run(aio, forking, make_job(tmp_path / "ending", code))
    assert exit_code == 1
    assert (tmp_path / "ending" / "late.txt").read_text() == "written"
    assert "no newlineatexit ran" in recorder.printed("stdout")
    assert "failed on purpose" in recorder.printed("stderr")

    exit_code, recorder = run(aio, forking, make_job(tmp_path / "raising", "raise ValueError('bad value')\n"))
    assert exit_code == 1
    assert "ValueError: bad value" in recorder.printed("stderr")
    exit_code, _ = run(aio, forking, make_job(tmp_path / "code", "import sys\nsys.exit(7)\n"))
    assert exit_code == 7


def test_a_job_whose_fork_server_dies_is_killed_and_the_next_job_gets_a_new_server(
    aio: LoopThread, forking: LocalCompute, tmp_path: Path
) -> None:
    waiting = make_job(
        tmp_path / "waiting",
        WAIT_FOR_FILE + "\nimport os\nprint(os.getppid(), os.getpid(), flush=True)\nwait_for_file('never')\n",
    )
    recorder = Recorder()
    running = start(aio, forking, waiting, recorder)
    until(aio, lambda: bool(recorder.lines("stdout")), "the job to start")
    server, job = (int(pid) for pid in recorder.lines("stdout")[0].split())
    os.kill(server, signal.SIGKILL)
    assert running.result(timeout=30) == GONE_CODE
    until(aio, lambda: not pid_alive(job), "the job to end with its fork server", timeout=10)
    code, recorder = run(aio, forking, make_job(tmp_path / "after", "import os\nprint(os.getppid())\n"))
    assert code == 0
    assert int(recorder.lines("stdout")[0]) != server


def test_a_job_cancelled_while_the_server_imports_ahead_never_runs_unwatched(
    aio: LoopThread, forking: LocalCompute, tmp_path: Path
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    importing, go = tmp_path / "importing", tmp_path / "go"
    (modules / "slow_module.py").write_text(  # imported ahead by the server: holds it until the test lets go
        WAIT_FOR_FILE + f"\nopen({str(importing)!r}, 'w').close()\nwait_for_file({str(go)!r})\n"
    )
    env = {"PYTHONPATH": str(modules)}
    started = tmp_path / "started.txt"
    code = f"import os, time\nopen({str(started)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    job = replace(make_job(tmp_path / "job", code, env=env), preload=("slow_module",))
    running = start(aio, forking, job, Recorder())
    until(aio, importing.exists, "the server to import ahead")
    running.cancel()
    go.write_text("go")
    exit_code, recorder = run(aio, forking, make_job(tmp_path / "next", "import os\nprint(os.getppid())\n", env=env))
    assert exit_code == 0  # the server moved on, so it has forked the cancelled job by now
    server = psutil.Process(int(recorder.lines("stdout")[0]))
    until(aio, lambda: not [p for p in server.children() if pid_alive(p.pid)], "the cancelled job to be killed")
    assert not started.exists() or not pid_alive(int(started.read_text() or 0))


def test_a_forked_job_is_not_charged_for_memory_it_shares_with_the_server(
    aio: LoopThread, forking: LocalCompute, tmp_path: Path
) -> None:
    preload = ("numpy", "sklearn.model_selection")
    job = replace(make_job(tmp_path / "light", "print('done')\n"), preload=preload, limits=Limits(memory_mb=60))
    code, recorder = run(aio, forking, job)
    assert code == 0, recorder.messages
    heavy = replace(
        make_job(tmp_path / "heavy", "import time\nblock = bytearray(200 * 1024 * 1024)\ntime.sleep(30)\n"),
        preload=preload,
        limits=Limits(memory_mb=60),
    )
    code, recorder = run(aio, forking, heavy)
    assert code != 0
    assert any(isinstance(m, Stopped) and "out of memory" in m.reason for m in recorder.messages)


def test_jobs_start_anew_when_forking_is_off(aio: LoopThread, tmp_path: Path) -> None:
    adapter = LocalCompute(fork=False)
    aio.run(adapter.start())
    try:
        job = replace(make_job(tmp_path / "plain", DESCRIBE), preload=("decimal",))
        code, recorder = run(aio, adapter, job)
    finally:
        aio.run(adapter.stop())
    assert code == 0
    assert json.loads(recorder.lines("stdout")[0])["preloaded"] is False
    assert sys.executable  # the same interpreter, started for this job
