"""The feedback wire protocol: event lines on a job's stdout and their parsing."""

from __future__ import annotations

import json

from deepforge_panel.jobruntime.deepforge.feedback import MARKER, encode, parse_line

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


def test_parse_line_reads_an_event_line_with_any_line_ending() -> None:
    event = {"type": "metric", "name": "acc", "value": 0.5, "step": None}
    line = encode(event)
    assert line == MARKER + json.dumps(event, separators=(",", ":"))
    assert parse_line(line) == event
    assert parse_line(line + "\n") == event
    assert parse_line(line + "\r\n") == event


def test_parse_line_treats_other_lines_as_ordinary_output() -> None:
    assert parse_line("epoch 1\n") is None
    assert parse_line("") is None
    assert parse_line(" " + encode({"type": "progress"})) is None
    assert parse_line(MARKER + '{"type": "progress"') is None
    assert parse_line(MARKER + "[1, 2]") is None
    assert parse_line(MARKER.strip() + '{"type": "progress"}') is None


def test_emitted_events_roundtrip_through_a_job_stdout(run_job, split_output) -> None:
    items = split_output(run_job(EMITTING_JOB).stdout)
    events = [item for item in items if isinstance(item, dict)]
    assert [item for item in items if isinstance(item, str)] == ["starting", "middle", "done"]
    assert items[0] == "starting" and items[-1] == "done"
    assert items[1:6] == [
        {"type": "progress", "current": 1, "total": 3, "label": "epochs"},
        {"type": "metric", "name": "loss", "value": 0.25, "step": 7},
        {"type": "metric", "name": "loss", "value": None, "step": None},
        {"type": "custom", "text": "line\nbreak \u00e9"},
        "middle",
    ]
    bursts = events[4:]
    assert len(bursts) == 800
    for worker in range(4):
        label = f"worker-{worker}"
        assert [e["current"] for e in bursts if e["label"] == label] == list(range(200))


def test_a_job_run_by_hand_prints_no_events(run_job) -> None:
    stdout = run_job(EMITTING_JOB, feedback=False).stdout
    assert MARKER.strip() not in stdout
    assert stdout == "starting\nmiddle\ndone\n"
