"""The job's events channel: records on a pipe of its own, never mixed with what the job prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from job_process import JOBRUNTIME, TIMEOUT_S, start_process

from deepforge_panel.adapters.compute import EVENTS_FD_ENV
from deepforge_panel.jobruntime.deepforge import feedback

EMITTING_JOB = """
    import threading
    from deepforge import feedback

    print("starting")
    feedback.progress(1, 3, label="epochs")
    feedback.metric("loss", 0.25, step=7)
    feedback.metric("loss", float("nan"))
    feedback.emit({"type": "custom", "text": "line\\nbreak \\u00e9"})
    print("middle")

    def burst(worker):
        for i in range(200):
            feedback.progress(i, 200, label=f"worker-{worker}")

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("done")
"""


def test_the_variable_is_the_one_adapters_set() -> None:
    assert feedback.ENV_VAR == EVENTS_FD_ENV


def test_events_arrive_whole_and_in_order_on_the_channel(run_job) -> None:
    result = run_job(EMITTING_JOB)
    assert result.stdout == "starting\nmiddle\ndone\n", "stdout holds exactly what the job printed"
    assert result.events[:4] == [
        {"type": "progress", "current": 1, "total": 3, "label": "epochs"},
        {"type": "metric", "name": "loss", "value": 0.25, "step": 7},
        {"type": "metric", "name": "loss", "value": None, "step": None},
        {"type": "custom", "text": "line\nbreak \u00e9"},
    ]
    bursts = result.events[4:]
    assert len(bursts) == 800
    for worker in range(4):
        label = f"worker-{worker}"
        assert [e["current"] for e in bursts if e["label"] == label] == list(range(200))


def test_a_job_run_by_hand_sends_nothing_and_prints_the_same(run_job) -> None:
    result = run_job(EMITTING_JOB, feedback=False)
    assert result.stdout == "starting\nmiddle\ndone\n"
    assert result.stderr == ""


def test_nothing_printed_can_hide_or_fake_an_event(run_job) -> None:
    result = run_job(
        """
        import sys
        from deepforge import metric

        print("epoch 1/1 [=====>   ]", end="", flush=True)
        metric("acc", 0.5, 1)
        print('\\x1e@deepforge {"type":"metric","name":"fake","value":1.0,"step":null}')
        sys.stdout.write("\\x1e@deepforge {broken")
        """
    )
    assert result.events == [{"type": "metric", "name": "acc", "value": 0.5, "step": 1}]
    assert result.stdout == (
        'epoch 1/1 [=====>   ]\x1e@deepforge {"type":"metric","name":"fake","value":1.0,"step":null}\n'
        "\x1e@deepforge {broken"
    )


def test_the_job_takes_the_channel_out_of_reach_of_its_children(run_job) -> None:
    """The descriptor turns non-inheritable and the variable leaves the environment."""
    result = run_job(
        f"""
        import os, subprocess, sys
        from deepforge import feedback

        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.environ.get({EVENTS_FD_ENV!r}))"],
            capture_output=True, text=True, close_fds=False,
        )
        inheritable = os.get_inheritable(feedback._channel.fileno())
        print(child.stdout.strip(), os.environ.get({EVENTS_FD_ENV!r}), feedback.enabled(), inheritable)
        """
    )
    assert result.stdout == "None None True False\n"


def test_a_child_left_running_does_not_hold_the_channel_open(tmp_path: Path) -> None:
    """The channel ends when the job exits, even if a process it started (inheriting all it may) lives on."""
    script = tmp_path / "main.py"
    script.write_text(
        "import subprocess, sys\n"
        "from deepforge import progress\n"
        "progress(1, 1)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], close_fds=False)\n"
        "print(child.pid, flush=True)\n"
    )
    job, reader = start_process(script, channel=True, stdout=subprocess.PIPE)
    assert reader is not None and job.stdout is not None
    child = int(job.stdout.readline())
    try:
        assert job.wait(timeout=TIMEOUT_S) == 0
        reader.finish(timeout=30)
        assert reader.events() == [{"type": "progress", "current": 1, "total": 1, "label": ""}]
        os.kill(child, 0)  # still running, yet the channel ended
    finally:
        os.kill(child, signal.SIGKILL)
        job.stdout.close()


def test_a_variable_naming_no_open_file_turns_feedback_off(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text("from deepforge import feedback, metric\nmetric('x', 1.0)\nprint(feedback.enabled())\n")
    env = {**os.environ, "PYTHONPATH": str(JOBRUNTIME), EVENTS_FD_ENV: "999"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False\n"
    assert f"${EVENTS_FD_ENV}='999' names no open file; feedback is off" in done.stderr


def test_a_closed_channel_is_reported_once_and_the_job_goes_on(capfd) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    feedback.connect(write_fd)
    try:
        feedback.metric("x", 1.0)
        feedback.metric("x", 2.0)
        assert not feedback.enabled()
    finally:
        feedback.disconnect()
    assert capfd.readouterr().err.count("the events channel closed") == 1
