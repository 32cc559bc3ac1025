"""Notebook sessions on real compute adapters: a local process and a Dask cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import ComputeAdapter
from deepforge_panel.adapters.compute.dask import DaskCompute
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.testing.loop_thread import LoopThread
from deepforge_panel.notebook_session import NotebookSession


@pytest.fixture(scope="module")
def aio() -> Iterator[LoopThread]:
    with LoopThread() as loop:
        yield loop


@pytest.fixture(scope="module", params=["local", "dask"])
def adapter(request: pytest.FixtureRequest, aio: LoopThread) -> Iterator[ComputeAdapter]:
    made: ComputeAdapter = LocalCompute(max_workers=4) if request.param == "local" else DaskCompute(n_workers=2)
    yield from aio.started(made)


@pytest.fixture
def session(aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> Iterator[NotebookSession]:
    made = NotebookSession(adapter, tmp_path / "session")
    yield made
    aio.run(made.shutdown())


def _text(outputs: list[dict[str, Any]], name: str = "stdout") -> str:
    return "".join(o["text"] for o in outputs if o["type"] == "stream" and o["name"] == name)


def test_state_is_kept_between_cells_and_the_last_value_is_shown(aio: LoopThread, session: NotebookSession) -> None:
    first = aio.run(session.run("x = 20\nprint('set', x)", label="c1"))
    assert first.status == "ok" and _text(first.outputs) == "set 20\n"
    second = aio.run(session.run("y = x + 1\ny * 2", label="c2"))
    assert second.status == "ok"
    result = [o for o in second.outputs if o["type"] == "result"]
    assert result == [{"type": "result", "text": "42", "html": None, "png": None}]
    assert session.status == "idle"


def test_errors_show_the_cells_own_lines_and_keep_the_state(aio: LoopThread, session: NotebookSession) -> None:
    aio.run(session.run("kept = 'yes'"))
    failed = aio.run(session.run("a = 1\nb = 2\n1 / 0\n", label="boom"))
    assert failed.status == "error"
    error = next(o for o in failed.outputs if o["type"] == "error")
    assert error["ename"] == "ZeroDivisionError"
    assert '<cell boom>", line 3' in error["traceback"] and "1 / 0" in error["traceback"]
    assert "kernel.py" not in error["traceback"], "the session's own frames are left out"
    bad = aio.run(session.run("def f(:\n  pass", label="typo"))
    syntax = next(o for o in bad.outputs if o["type"] == "error")
    assert bad.status == "error" and syntax["ename"] == "SyntaxError" and syntax["evalue"].startswith("line 1, column")
    again = aio.run(session.run("kept"))
    assert next(o for o in again.outputs if o["type"] == "result")["text"] == "'yes'"


def test_output_streams_while_the_cell_runs(aio: LoopThread, session: NotebookSession, tmp_path: Path) -> None:
    go = tmp_path / "go"
    seen: list[dict[str, Any]] = []

    async def main() -> str:
        running = asyncio.ensure_future(
            session.run(
                f"import os, time\nprint('waiting', flush=True)\n"
                f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\nprint('went')",
                on_output=seen.append,
            )
        )
        for _ in range(3000):
            if "waiting" in _text(seen):
                break
            await asyncio.sleep(0.01)
        assert "waiting" in _text(seen) and not running.done(), "output arrived before the cell ended"
        go.touch()
        return (await asyncio.wait_for(running, 30)).status

    assert aio.run(main()) == "ok"
    assert _text(seen) == "waiting\nwent\n"


def test_interrupt_stops_the_cell_and_keeps_the_session(aio: LoopThread, session: NotebookSession) -> None:
    aio.run(session.run("counter = 7"))

    seen: list[dict[str, Any]] = []

    async def main() -> str:
        code = "import time\nprint('looping', flush=True)\nwhile True: time.sleep(0.01)"
        running = asyncio.ensure_future(session.run(code, on_output=seen.append))
        for _ in range(3000):  # until the cell is inside its loop
            if "looping" in _text(seen):
                break
            await asyncio.sleep(0.01)
        session.interrupt()
        return (await asyncio.wait_for(running, 30)).status

    assert aio.run(main()) == "interrupted"
    after = aio.run(session.run("counter"))
    assert next(o for o in after.outputs if o["type"] == "result")["text"] == "7"


def test_a_session_that_dies_is_reported_and_restarts(aio: LoopThread, session: NotebookSession) -> None:
    aio.run(session.run("state = 1"))
    died = aio.run(session.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    assert died.status == "dead" and session.status == "dead"
    error = next(o for o in died.outputs if o["type"] == "error")
    assert "SIGKILL" in error["evalue"]
    fresh = aio.run(session.run("'state' in globals()"))
    assert fresh.status == "ok" and next(o for o in fresh.outputs if o["type"] == "result")["text"] == "False"


def test_a_cell_that_exhausts_memory_fails_alone_and_the_state_is_kept(
    aio: LoopThread, session: NotebookSession
) -> None:
    # The session's own address space is capped (1 GiB more than it holds), so the machine stays safe
    # and the allocation fails where a larger one would fail on a full machine.
    cap = (
        "import resource\nused = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))\nstate = 'kept'"
    )
    assert aio.run(session.run(cap)).status == "ok"
    hog = aio.run(session.run("hog = []\nwhile True:\n    hog.append(bytearray(64 << 20))", label="hog"))
    assert hog.status == "error" and session.status == "idle"
    error = next(o for o in hog.outputs if o["type"] == "error")
    assert error["ename"] == "MemoryError" and '<cell hog>", line 3' in error["traceback"]
    after = aio.run(session.run("del hog  # what it held is given back\nstate"))
    assert next(o for o in after.outputs if o["type"] == "result")["text"] == "'kept'"


def test_a_flood_of_output_is_truncated_and_the_session_stays(aio: LoopThread, session: NotebookSession) -> None:
    flood = aio.run(session.run("for i in range(1_000_000): print(i)"))
    assert flood.status == "ok"
    assert len(_text(flood.outputs)) <= 1_000_000 and flood.truncated > 0
    assert any(o["type"] == "note" and "truncated" in o["text"] for o in flood.outputs)
    assert aio.run(session.run("1 + 1")).status == "ok"


def test_figures_arrive_as_data(aio: LoopThread, session: NotebookSession) -> None:
    drawn = aio.run(session.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('t')"))
    figures = [o["figure"] for o in drawn.outputs if o["type"] == "figure"]
    assert drawn.status == "ok" and len(figures) == 1
    assert figures[0]["axes"][0]["title"] == "t"


def test_restart_and_shutdown(aio: LoopThread, session: NotebookSession) -> None:
    aio.run(session.run("v = 1"))
    aio.run(session.restart())
    assert session.status == "idle"
    assert next(o for o in aio.run(session.run("'v' in dir()")).outputs if o["type"] == "result")["text"] == "False"
    aio.run(session.shutdown())
    assert session.status == "stopped"


def test_a_trailing_semicolon_hides_the_value(aio: LoopThread, session: NotebookSession) -> None:
    assert not [o for o in aio.run(session.run("1 + 1;")).outputs if o["type"] == "result"]
    assert [o["text"] for o in aio.run(session.run("1 + 1")).outputs if o["type"] == "result"] == ["2"]
