"""The deepforge matplotlib backend streams figures from unchanged pyplot code."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

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
def test_training_loop_sends_a_figure_per_epoch(run_job, redraw: str) -> None:
    result = run_job(training_job(TRAINING_LOOPS[redraw]))
    *epochs, last_line = result.stdout.splitlines()
    losses = [float(v) for v in last_line.strip("[]").split(",")]

    assert epochs == [f"epoch {i}" for i in range(5)], "stdout holds only what the job printed"
    assert {event["type"] for event in result.events} == {"figure"}
    assert {event["id"] for event in result.events} == {"1"}
    drawn = [event["figure"]["axes"][0]["lines"][-1]["y"] for event in result.events]
    assert drawn == [pytest.approx(losses[: epoch + 1]) for epoch in range(5)], "one figure per epoch, in order"
    assert result.events[-1]["figure"]["axes"][0]["lines"][-1]["x"] == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("redraw", sorted(TRAINING_LOOPS))
def test_the_same_loop_run_by_hand_sends_nothing(run_job, redraw: str) -> None:
    result = run_job(training_job(TRAINING_LOOPS[redraw]), feedback=False)
    assert result.events == []
    assert result.stdout.split("\n")[:5] == [f"epoch {i}" for i in range(5)]


def test_figure_arrives_while_the_job_still_runs(start_job) -> None:
    """The record is flushed at once: the server sees it while the job waits on stdin."""
    job, reader = start_job(
        """
        import sys
        import matplotlib.pyplot as plt

        print("epoch 1/1 [=====>   ]", end="", flush=True)
        plt.plot([1, 2])
        plt.show()
        sys.stdin.readline()
        print("resumed")
        """
    )
    [event] = reader.wait_for(1)
    assert event["type"] == "figure" and event["figure"]["axes"][0]["lines"][0]["y"] == [1.0, 2.0]
    assert job.poll() is None

    stdout, stderr = job.communicate("\n", timeout=60)
    assert job.returncode == 0, stderr
    assert stdout == "epoch 1/1 [=====>   ]resumed\n"
    assert len(reader.finish()) == 1


def test_unchanged_figure_is_emitted_once(channel) -> None:
    fig = Figure()
    canvas = FigureCanvasDeepforge(fig)
    fig.add_subplot().plot([1, 2, 3])

    canvas.draw()
    canvas.draw()
    canvas.draw_idle()
    assert canvas.publish() is False
    first = channel()

    fig.axes[0].plot([3, 2, 1])
    canvas.draw_idle()
    canvas.draw()
    second = channel()

    assert len(first) == 1 and len(second) == 1
    assert first[0]["id"] == second[0]["id"] == canvas.figure_id
    assert len(second[0]["figure"]["axes"][0]["lines"]) == 2


def test_savefig_writes_a_png_and_emits(channel, tmp_path: Path) -> None:
    fig = Figure(figsize=(2, 1), dpi=50)
    FigureCanvasDeepforge(fig)
    fig.add_subplot().plot([1, 2])

    fig.savefig(tmp_path / "plot.png", dpi=200)
    fig.savefig(tmp_path / "plot.svg")

    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "plot.svg").read_text().lstrip().startswith("<?xml")
    [event] = channel()
    assert (event["figure"]["width"], event["figure"]["height"]) == (100, 50)


def test_without_a_channel_nothing_is_emitted(capfd) -> None:
    fig = Figure()
    canvas = FigureCanvasDeepforge(fig)
    fig.add_subplot().plot([1, 2])
    canvas.draw()
    assert canvas.publish() is False
    assert capfd.readouterr().out == ""


def test_flush_all_sends_figures_never_shown(run_job) -> None:
    result = run_job(
        """
        import matplotlib.pyplot as plt
        from deepforge import progress
        from deepforge.mpl_backend import flush_all

        plt.figure("a").add_subplot().plot([1, 2])
        fig = plt.figure("b")
        fig.add_subplot().plot([3, 4])
        fig.canvas.draw()
        progress(1)
        flush_all()
        progress(2)
        flush_all()
        """
    )
    assert [event.get("id", event["type"]) for event in result.events] == ["2", "progress", "1", "progress"]
    assert result.stdout == ""


def test_flush_all_sends_figures_of_code_that_forces_agg(run_job) -> None:
    result = run_job(
        """
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from deepforge.mpl_backend import flush_all

        plt.plot([1, 2, 3])
        plt.show()
        flush_all()
        """
    )
    [event] = result.events
    assert event["figure"]["axes"][0]["lines"][0]["y"] == [1.0, 2.0, 3.0]
