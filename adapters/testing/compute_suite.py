"""Conformance tests every compute adapter inherits, in the style of ``fsspec/tests/abstract``.

A subclass supplies one fixture, ``adapter``: a started adapter living on the class's ``aio`` loop,
e.g. ``yield from aio.started(LocalCompute(max_workers=4))``. Capacity must allow two jobs at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute import (
    EVENTS_FD_ENV,
    AdapterMessage,
    ComputeAdapter,
    EventRecord,
    JobControl,
    JobSpec,
    Line,
    Queued,
    Started,
)
from deepforge_panel.adapters.compute.processes import alive
from deepforge_panel.adapters.testing.loop_thread import LoopThread

__all__ = [
    "DEADLINE_S",
    "WAIT_FOR_FILE",
    "ComputeConformance",
    "Recorder",
    "check_cancel_while_queued",
    "make_job",
    "pid_alive",
    "poll",
]

# Every wait in these tests ends by then, so a broken adapter fails instead of hanging.
DEADLINE_S = 30.0

# Figures travel as single records of up to 16 MiB.
BIG_RECORD = 16 * 1024 * 1024 - 64

# Console lines up to this long arrive whole; longer ones in pieces this long at most.
CONSOLE_PIECE = 1024 * 1024

# Put at the top of job scripts that wait for a file the test creates.
WAIT_FOR_FILE = """
import os, sys, time

def wait_for_file(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
"""


def make_job(
    folder: Path, code: str, env: dict[str, str] | None = None, files: dict[str, str] | None = None
) -> JobSpec:
    """Write a job folder holding ``main.py`` (and ``files``) and describe it as a JobSpec."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(textwrap.dedent(code))
    for rel, text in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return JobSpec(id=f"test-{folder.name}", folder=folder, env=dict(env or {}))


class Recorder:
    """An ``emit`` that keeps every message, the threads it was called on, and wakes line waiters."""

    def __init__(self) -> None:
        self.messages: list[AdapterMessage] = []
        self.threads: set[int] = set()
        self._changed = asyncio.Event()

    def __call__(self, message: AdapterMessage) -> None:
        self.messages.append(message)
        self.threads.add(threading.get_ident())
        self._changed.set()

    def lines(self, stream: str) -> list[str]:
        """The text of every line of ``stream`` ("stdout" or "stderr"), in order."""
        return [m.text for m in self.messages if isinstance(m, Line) and m.stream == stream]

    def printed(self, stream: str) -> str:
        """All of ``stream`` as the job printed it."""
        return "".join(m.printed for m in self.messages if isinstance(m, Line) and m.stream == stream)

    def records(self) -> list[str]:
        """The payload of every record of the events channel, in order."""
        return [m.payload for m in self.messages if isinstance(m, EventRecord)]

    def types(self) -> list[type]:
        return [type(m) for m in self.messages]

    async def wait_for_line(self, kind: str, line: str, timeout: float = DEADLINE_S) -> None:
        """Return once ``line`` was emitted on ``kind``; fail after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while line not in self.lines(kind):
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{kind} line {line!r} never came; got {self.messages!r}"[:2000])
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


async def poll(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    """Wait until ``predicate()`` holds, checking every 20 ms; fail naming ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaped yet counts as gone)."""
    return alive(pid)


class ComputeConformance:
    """The contract of ``ComputeAdapter.run``; see its docstring."""

    @pytest.fixture(scope="class")
    @classmethod
    def aio(cls) -> Iterator[LoopThread]:
        with LoopThread() as loop:
            yield loop

    @pytest.fixture(scope="class")
    @classmethod
    def adapter(cls, aio: LoopThread) -> Iterator[ComputeAdapter]:
        raise NotImplementedError("a conformance subclass supplies the started `adapter` fixture")

    def test_exit_zero_with_stdout(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        job = make_job(tmp_path / "ok", 'print("hello")\nprint("world")\n')

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        code, rec = aio.run(main())
        assert code == 0
        assert rec.lines("stdout") == ["hello", "world"]
        assert rec.lines("stderr") == []

    @pytest.mark.parametrize(
        ("code", "expected"),
        [("import sys\nsys.exit(3)\n", 3), ("import os\nos._exit(5)\n", 5), ("raise SystemExit(0)\n", 0)],
    )
    def test_exit_code(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path, code: str, expected: int
    ) -> None:
        job = make_job(tmp_path / "exit", code)
        assert aio.run(adapter.run(job, Recorder())) == expected

    def test_exception_gives_1_and_traceback_on_stderr(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path
    ) -> None:
        job = make_job(tmp_path / "boom", 'def f():\n    raise ValueError("boom from job")\nf()\n')

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        code, rec = aio.run(main())
        assert code == 1
        stderr = rec.lines("stderr")
        assert stderr[0] == "Traceback (most recent call last):"
        assert stderr[-1] == "ValueError: boom from job"
        assert any("line 2, in f" in line for line in stderr)

    def test_env_cwd_and_interpreter(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        code = """
        import json, os, sys
        import helper
        print(json.dumps({
            "value": os.environ.get("DF_TEST_VALUE"),
            "path": os.environ.get("PATH"),
            "unbuffered": os.environ.get("PYTHONUNBUFFERED"),
            "events_fd": os.environ.get("DEEPFORGE_EVENTS_FD", "").isdigit(),
            "main_here": os.path.exists("main.py"),
            "data": open("data/input.txt").read(),
            "helper": helper.NAME,
            "executable": sys.executable,
        }))
        """
        files = {"helper.py": 'NAME = "helper"\n', "data/input.txt": "shipped"}
        job = make_job(tmp_path / "env", code, env={"DF_TEST_VALUE": "a b=c"}, files=files)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0, rec.lines("stderr")
        seen = json.loads(rec.lines("stdout")[0])
        assert seen == {
            "value": "a b=c",
            "path": os.environ.get("PATH"),
            "unbuffered": "1",
            "events_fd": True,
            "main_here": True,
            "data": "shipped",
            "helper": "helper",
            "executable": sys.executable,
        }

    def test_stdout_arrives_while_job_runs(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        go = tmp_path / "go"
        code = WAIT_FOR_FILE + textwrap.dedent(
            """
            sys.stdout.write("ready\\n")
            sys.stdout.flush()
            sys.exit(0 if wait_for_file(os.environ["GO"]) else 2)
            """
        )
        job = make_job(tmp_path / "stream", code, env={"GO": str(go)})

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            task = asyncio.ensure_future(adapter.run(job, rec))
            await rec.wait_for_line("stdout", "ready")
            assert not task.done(), "the line only came once the job had ended"
            go.touch()
            return await asyncio.wait_for(task, DEADLINE_S), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0
        assert rec.lines("stdout") == ["ready"]

    def test_one_mib_line_arrives_intact(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        code = (
            'import sys\nline = "0123456789abcdef" * 65536\nprint(line)\nprint("after")\nprint(line, file=sys.stderr)\n'
        )
        job = make_job(tmp_path / "long", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0
        expected = "0123456789abcdef" * 65536
        assert rec.lines("stdout") == [expected, "after"]
        assert rec.lines("stderr") == [expected]

    def test_lines_keep_their_order_per_stream(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        code = "import sys\nfor i in range(300):\n    print(f'out {i}')\n    print(f'err {i}', file=sys.stderr)\n"
        job = make_job(tmp_path / "order", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0
        assert rec.lines("stdout") == [f"out {i}" for i in range(300)]
        assert rec.lines("stderr") == [f"err {i}" for i in range(300)]

    def test_unfinished_last_line_arrives_as_printed(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path
    ) -> None:
        code = (
            'import sys\nprint("done")\nsys.stdout.write("epoch 1/1 [=====>   ]")\nsys.stderr.write("\\r50%\\r100%")\n'
        )
        job = make_job(tmp_path / "unfinished", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0
        assert [m for m in rec.messages if isinstance(m, Line) and m.stream == "stdout"] == [
            Line("stdout", "done"),
            Line("stdout", "epoch 1/1 [=====>   ]", newline=False),
        ]
        assert rec.printed("stdout") == "done\nepoch 1/1 [=====>   ]"
        assert rec.printed("stderr") == "\r50%\r100%"

    def test_events_travel_on_their_own_channel(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        """Records arrive whole and in order whatever the job prints around them; nothing printed is a record."""
        code = f"""
        import os, sys
        channel = os.fdopen(int(os.environ[{EVENTS_FD_ENV!r}]), "wb")
        sys.stdout.write("epoch 1/1 [=====>   ]")
        sys.stdout.flush()
        channel.write(b'{{"type":"metric","name":"loss","value":0.5}}\\n')
        channel.flush()
        print('\\x1e@deepforge {{"type":"progress","current":1}}')
        sys.stderr.write("half a line")
        sys.stderr.flush()
        channel.write(b'{{"type":"figure","pad":"' + b"x" * {BIG_RECORD} + b'"}}\\n')
        channel.write(b"not json at all\\n")
        channel.flush()
        print("after")
        """
        job = make_job(tmp_path / "events", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0, rec.lines("stderr")
        big = '{"type":"figure","pad":"' + "x" * BIG_RECORD + '"}'
        assert rec.records() == ['{"type":"metric","name":"loss","value":0.5}', big, "not json at all"]
        assert rec.printed("stdout") == 'epoch 1/1 [=====>   ]\x1e@deepforge {"type":"progress","current":1}\nafter\n'
        assert rec.printed("stderr") == "half a line"

    def test_long_lines_come_in_pieces_and_oversized_records_are_dropped(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path
    ) -> None:
        """Reading what a job writes takes bounded memory: a console line past 1 MiB comes in pieces of at most
        1 MiB that join to what was printed; a record past 16 MiB is dropped, reported by its beginning and size."""
        code = f"""
        import os, sys
        channel = os.fdopen(int(os.environ[{EVENTS_FD_ENV!r}]), "wb")
        sys.stdout.write("ab" * {CONSOLE_PIECE} + "é" * 1000 + "\\nafter")
        sys.stdout.flush()
        channel.write(b'{{"type":"figure","pad":"' + b"x" * {2 * BIG_RECORD} + b'"}}\\n')
        channel.write(b'{{"type":"metric"}}\\n')
        channel.flush()
        """
        job = make_job(tmp_path / "long", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0, rec.lines("stderr")
        assert rec.printed("stdout") == "ab" * CONSOLE_PIECE + "é" * 1000 + "\nafter"
        pieces = [m for m in rec.messages if isinstance(m, Line) and m.stream == "stdout"]
        assert len(pieces) >= 3 and all(len(p.text.encode()) <= CONSOLE_PIECE for p in pieces)
        records = [m for m in rec.messages if isinstance(m, EventRecord)]
        assert [r.dropped for r in records] == [2 * BIG_RECORD + len('{"type":"figure","pad":""}'), 0]
        assert records[0].payload.startswith('{"type":"figure","pad":"xxx') and len(records[0].payload) < 1024
        assert records[1].payload == '{"type":"metric"}'

    def test_the_job_holds_only_the_channels_write_end(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path
    ) -> None:
        """No other descriptor (the pipe's read end above all) leaks into the job."""
        code = f"""
        import os, stat
        channel = int(os.environ[{EVENTS_FD_ENV!r}])
        others = []
        for fd in range(3, 256):
            try:
                os.fstat(fd)
            except OSError:
                continue
            if fd != channel:
                others.append(fd)
        print(stat.S_ISFIFO(os.fstat(channel).st_mode), os.get_inheritable(channel), others)
        """
        job = make_job(tmp_path / "fds", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            return await adapter.run(job, rec), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0, rec.lines("stderr")
        assert rec.lines("stdout") == ["True True []"]

    def test_queued_then_started_once_on_the_loop_thread(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path
    ) -> None:
        job = make_job(tmp_path / "once", 'print("x")\n')

        async def main() -> tuple[int, Recorder, int, float, float]:
            rec = Recorder()
            before = time.time()
            exit_code = await adapter.run(job, rec)
            return exit_code, rec, threading.get_ident(), before, time.time()

        exit_code, rec, loop_thread, before, after = aio.run(main())
        assert exit_code == 0
        assert rec.types() == [Queued, Started, Line]
        started = rec.messages[1]
        assert isinstance(started, Started) and isinstance(started.time, float) and before <= started.time <= after
        assert rec.threads == {loop_thread}

    def test_cancel_kills_job_and_its_children(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        pids = tmp_path / "pids"
        code = """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\nwhile True: time.sleep(1)"])
        tmp = os.environ["PIDS"] + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        os.replace(tmp, os.environ["PIDS"])
        print("ready", flush=True)
        while True:
            time.sleep(1)
        """
        job = make_job(tmp_path / "cancel", code, env={"PIDS": str(pids)})

        async def main() -> list[int]:
            rec = Recorder()
            task = asyncio.ensure_future(adapter.run(job, rec))
            await rec.wait_for_line("stdout", "ready")
            job_pids = [int(pid) for pid in pids.read_text().split()]
            assert all(pid_alive(pid) for pid in job_pids)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await poll(lambda: not any(pid_alive(pid) for pid in job_pids), f"job processes {job_pids} to die")
            return job_pids

        for pid in aio.run(main()):
            assert not pid_alive(pid)

    def test_a_control_feeds_stdin_interrupts_and_ends_input(
        self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path
    ) -> None:
        """A session-like job: it answers each line, survives an interrupt of what it was doing, ends at EOF."""
        code = """
            import signal, sys, time
            signal.signal(signal.SIGINT, signal.default_int_handler)
            print("ready", flush=True)
            for line in sys.stdin:
                line = line.rstrip("\\n")
                if line == "sleep":
                    try:
                        print("sleeping", flush=True)
                        time.sleep(60)
                    except KeyboardInterrupt:
                        print("interrupted", flush=True)
                else:
                    print("echo:" + line, flush=True)
            print("end of input", flush=True)
        """
        job = make_job(tmp_path / "control", code)

        async def main() -> tuple[int, Recorder]:
            rec = Recorder()
            control = JobControl()
            control.send("before start")  # waits until the job reads it
            task = asyncio.ensure_future(adapter.run(job, rec, control))
            await rec.wait_for_line("stdout", "echo:before start")
            control.send("hello")
            await rec.wait_for_line("stdout", "echo:hello")
            control.send("sleep")
            await rec.wait_for_line("stdout", "sleeping")
            control.interrupt()
            await rec.wait_for_line("stdout", "interrupted")
            control.send("still here")
            await rec.wait_for_line("stdout", "echo:still here")
            control.close()
            return await asyncio.wait_for(task, DEADLINE_S), rec

        exit_code, rec = aio.run(main())
        assert exit_code == 0
        assert rec.lines("stdout") == [
            "ready",
            "echo:before start",
            "echo:hello",
            "sleeping",
            "interrupted",
            "echo:still here",
            "end of input",
        ]

    def test_without_a_control_stdin_is_empty(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        job = make_job(tmp_path / "nostdin", "import sys\nprint(repr(sys.stdin.read()))\n")
        rec = Recorder()
        assert aio.run(adapter.run(job, rec)) == 0
        assert rec.lines("stdout") == ["''"]

    def test_two_jobs_run_at_once(self, aio: LoopThread, adapter: ComputeAdapter, tmp_path: Path) -> None:
        code = WAIT_FOR_FILE + textwrap.dedent(
            """
            open(os.environ["ME"], "w").close()
            sys.exit(0 if wait_for_file(os.environ["OTHER"], timeout=15.0) else 2)
            """
        )
        a, b = tmp_path / "a.marker", tmp_path / "b.marker"
        job_a = make_job(tmp_path / "a", code, env={"ME": str(a), "OTHER": str(b)})
        job_b = make_job(tmp_path / "b", code, env={"ME": str(b), "OTHER": str(a)})

        async def main() -> list[int]:
            return list(await asyncio.gather(adapter.run(job_a, Recorder()), adapter.run(job_b, Recorder())))

        assert aio.run(main()) == [0, 0]


async def check_cancel_while_queued(adapter: ComputeAdapter, tmp_path: Path, capacity: int) -> None:
    """Fill all ``capacity`` slots, cancel a queued job, free the slots: the cancelled job never runs."""
    go = tmp_path / "go"
    blocker_code = WAIT_FOR_FILE + (
        'print("ready", flush=True)\nsys.exit(0 if wait_for_file(os.environ["GO"]) else 2)\n'
    )
    blockers = [make_job(tmp_path / f"blocker{i}", blocker_code, env={"GO": str(go)}) for i in range(capacity)]
    ran = tmp_path / "queued-job-ran"
    queued = make_job(tmp_path / "queued", f"open({str(ran)!r}, 'w').close()\n")
    recorders = [Recorder() for _ in blockers]
    running = [asyncio.ensure_future(adapter.run(job, rec)) for job, rec in zip(blockers, recorders, strict=True)]
    for rec in recorders:
        await rec.wait_for_line("stdout", "ready")
    rec_queued = Recorder()
    task = asyncio.ensure_future(adapter.run(queued, rec_queued))
    await poll(lambda: rec_queued.types() == [Queued], "the extra job to be queued")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    go.touch()
    assert await asyncio.gather(*running) == [0] * capacity
    # Slots are handed out in order: had the cancelled job stayed queued, it would run before these.
    after = [make_job(tmp_path / f"after{i}", 'print("after")\n') for i in range(capacity)]
    assert await asyncio.gather(*(adapter.run(job, Recorder()) for job in after)) == [0] * capacity
    assert rec_queued.types() == [Queued]
    assert not ran.exists()
