"""The deepforge matplotlib backend streams figures from unchanged pyplot code."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from deepforge_panel.jobruntime.deepforge.feedback import MARKER, parse_line
from deepforge_panel.jobruntime.deepforge.mpl_backend import FigureCanvasDeepforge

TRAINING_LOOPS = {
    "show": ["plt.plot(losses)", "plt.show()"],
    "draw": ["plt.clf()", "plt.plot(losses)", "plt.draw()"],
    "pause": ["plt.clf()", "plt.plot(losses)", "plt.pause(0.001)"],
}


def training_job(redraw: list[str]) -> str:
    """A plain pyplot training loop that knows nothing about the workbench."""
    body = "\n    ".join(redraw)
    return f"""
import matplotlib.pyplot as plt

losses = []
for epoch in range(5):
    losses.append(1.0 / (epoch + 1) + 0.01 * epoch)
    {body}
    print(f"epoch {{epoch}}")
print(losses)
"""


@pytest.mark.parametrize("redraw", sorted(TRAINING_LOOPS))
def test_training_loop_streams_figures_while_it_runs(run_job, split_output, redraw: str) -> None:
    items = split_output(run_job(training_job(TRAINING_LOOPS[redraw])).stdout)
    *progress, last_line = items
    losses = [float(v) for v in last_line.strip("[]").split(",")]

    assert [item for item in progress if isinstance(item, str)] == [f"epoch {i}" for i in range(5)]
    for epoch in range(5):
        before = progress[: progress.index(f"epoch {epoch}")]
        figures = [item for item in before if isinstance(item, dict)]
        assert figures and figures[-1]["type"] == "figure" and figures[-1]["id"] == "1"
        drawn = figures[-1]["figure"]["axes"][0]["lines"][-1]["y"]
        assert drawn == pytest.approx(losses[: epoch + 1])
    final = [item for item in progress if isinstance(item, dict)][-1]["figure"]
    [line] = [line for line in final["axes"][0]["lines"] if len(line["y"]) == 5]
    assert line["y"] == pytest.approx(losses)
    assert line["x"] == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("redraw", sorted(TRAINING_LOOPS))
def test_the_same_loop_run_by_hand_prints_no_events(run_job, redraw: str) -> None:
    stdout = run_job(training_job(TRAINING_LOOPS[redraw]), feedback=False).stdout
    assert MARKER.strip() not in stdout
    assert stdout.split("\n")[:5] == [f"epoch {i}" for i in range(5)]


def test_figure_arrives_while_the_job_still_runs(start_job) -> None:
    """The event is flushed at once: the server sees it while the job waits on stdin."""
    job = start_job(
        """
        import sys
        import matplotlib.pyplot as plt

        plt.plot([1, 2])
        plt.show()
        sys.stdin.readline()
        print("resumed")
        """
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in job.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    deadline = time.monotonic() + 60
    event = None
    while event is None and time.monotonic() < deadline:
        try:
            event = parse_line(lines.get(timeout=0.1))
        except queue.Empty:
            assert job.poll() is None, job.stderr.read()
    assert event is not None and event["type"] == "figure"
    assert job.poll() is None

    job.stdin.write("\n")
    job.stdin.close()
    assert job.wait(timeout=60) == 0
    reader.join(timeout=60)
    assert lines.get_nowait() == "resumed\n"


def test_unchanged_figure_is_emitted_once(capfd, monkeypatch) -> None:
    monkeypatch.setenv("DEEPFORGE_FEEDBACK", "1")
    fig = Figure()
    canvas = FigureCanvasDeepforge(fig)
    fig.add_subplot().plot([1, 2, 3])
    capfd.readouterr()

    canvas.draw()
    canvas.draw()
    canvas.draw_idle()
    assert canvas.publish() is False
    first = events(capfd.readouterr().out)

    fig.axes[0].plot([3, 2, 1])
    canvas.draw_idle()
    canvas.draw()
    second = events(capfd.readouterr().out)

    assert len(first) == 1 and len(second) == 1
    assert first[0]["id"] == second[0]["id"] == canvas.figure_id
    assert len(second[0]["figure"]["axes"][0]["lines"]) == 2


def test_savefig_writes_a_png_and_emits(capfd, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEEPFORGE_FEEDBACK", "1")
    fig = Figure(figsize=(2, 1), dpi=50)
    FigureCanvasDeepforge(fig)
    fig.add_subplot().plot([1, 2])
    capfd.readouterr()

    fig.savefig(tmp_path / "plot.png", dpi=200)
    fig.savefig(tmp_path / "plot.svg")

    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "plot.svg").read_text().lstrip().startswith("<?xml")
    [event] = events(capfd.readouterr().out)
    assert (event["figure"]["width"], event["figure"]["height"]) == (100, 50)


def test_disabled_feedback_emits_nothing(capfd, monkeypatch) -> None:
    monkeypatch.delenv("DEEPFORGE_FEEDBACK", raising=False)
    fig = Figure()
    canvas = FigureCanvasDeepforge(fig)
    fig.add_subplot().plot([1, 2])
    canvas.draw()
    assert canvas.publish() is False
    assert capfd.readouterr().out == ""


def test_flush_all_sends_figures_never_shown(run_job, split_output) -> None:
    items = split_output(
        run_job(
            """
            import matplotlib.pyplot as plt
            from deepforge.mpl_backend import flush_all

            plt.figure("a").add_subplot().plot([1, 2])
            fig = plt.figure("b")
            fig.add_subplot().plot([3, 4])
            fig.canvas.draw()
            print("before flush")
            flush_all()
            print("second flush")
            flush_all()
            """
        ).stdout
    )
    assert [item if isinstance(item, str) else item["id"] for item in items] == [
        "2",
        "before flush",
        "1",
        "second flush",
    ]


def test_flush_all_sends_figures_of_code_that_forces_agg(run_job, split_output) -> None:
    items = split_output(
        run_job(
            """
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from deepforge.mpl_backend import flush_all

            plt.plot([1, 2, 3])
            plt.show()
            flush_all()
            """
        ).stdout
    )
    [event] = items
    assert event["figure"]["axes"][0]["lines"][0]["y"] == [1.0, 2.0, 3.0]


def events(stdout: str) -> list[dict]:
    return [event for line in stdout.split("\n") if (event := parse_line(line)) is not None]
