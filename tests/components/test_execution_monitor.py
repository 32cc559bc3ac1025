"""The execution monitor over real executions (local subprocesses), and FigureView's in-place updates."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsStreamedEvent
from matplotlib.figure import Figure

from deepforge_panel.components.execution_monitor import (
    EMPTY,
    STATUS_COLORS,
    TABLE_ROWS,
    ExecutionMonitor,
    natural_key,
)
from deepforge_panel.components.figures import FigureView, palette_for
from deepforge_panel.components.session import Session
from deepforge_panel.executions import Job, JobId
from deepforge_panel.hub import ProjectHub
from deepforge_panel.jobruntime.deepforge.figures import figure_to_data
from deepforge_panel.workspace import Workspace
from tests.conftest import async_wait_until

# Bokeh 3.9 turns every pandas frame into a Tabulator source with reset_index(inplace=True),
# which pandas 3.1 deprecates; the warning is about bokeh's internals, not this code.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning:bokeh")

EPOCHS = 4

PREPARE = """
class Prepare:
    def __init__(self, epochs: int = 4):
        self.epochs = epochs

    def execute(self):
        print("preparing data", flush=True)
        print("note: a library's warning", file=__import__("sys").stderr, flush=True)
        data = self.epochs
        return data
"""

TRAIN = '''
import time
from pathlib import Path
import matplotlib.pyplot as plt
from deepforge import metric, progress

class Train:
    """Draw a loss curve one epoch at a time; with a gate folder, wait for file <epoch> before the next."""
    def __init__(self, gate: str = ""):
        self.gate = gate

    def execute(self, data):
        losses = []
        for epoch in range(data):
            if self.gate:
                deadline = time.time() + 30
                while not Path(self.gate, str(epoch)).exists():
                    if time.time() > deadline:
                        raise TimeoutError(f"no go for epoch {epoch}")
                    time.sleep(0.01)
            losses.append(1.0 / (epoch + 1))
            plt.cla()
            plt.plot(losses, label="loss")
            plt.title("training loss")
            plt.draw()
            metric("loss", losses[-1], epoch)
            progress(epoch + 1, data, "epoch")
            print(f"epoch {epoch} loss {losses[-1]:.3f}", flush=True)
        model = len(losses)
        return model
'''

EXPLODE = """
class Explode:
    def execute(self, data):
        print("checking data", flush=True)
        raise ValueError(f"bad value {data}")
        checked = data
        return checked
"""

REPORT = """
class Report:
    def execute(self, checked):
        print(checked)
"""

SLEEP = """
import time
from pathlib import Path
class Sleep:
    def __init__(self, started: str = ""):
        self.started = started
    def execute(self):
        Path(self.started).write_text("started")
        time.sleep(600)
"""


def _hub(home: Path) -> ProjectHub:
    workspace = Workspace(home, examples=False)
    workspace.create("demo").store.close()
    return ProjectHub(workspace)


def _training_pipeline(session: Session, gate: str = "") -> None:
    """prepare -> train, prepare -> explode -> report: one success with a figure, one failure, one skip."""
    project = session.project
    ops = {code: project.operations.add(code) for code in (PREPARE, TRAIN, EXPLODE, REPORT)}
    pid = project.pipelines.create("training")
    prepare = project.pipelines.add_node(pid, ops[PREPARE], name="prepare", attributes={"epochs": EPOCHS})
    train = project.pipelines.add_node(pid, ops[TRAIN], name="train", attributes={"gate": gate})
    explode = project.pipelines.add_node(pid, ops[EXPLODE], name="explode")
    report = project.pipelines.add_node(pid, ops[REPORT], name="report")
    project.pipelines.add_edge(pid, prepare, "data", train, "data")
    project.pipelines.add_edge(pid, prepare, "data", explode, "data")
    project.pipelines.add_edge(pid, explode, "checked", report, "checked")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """A session on a project whose "training" pipeline ran once to its (partly failed) end."""
    hub = _hub(tmp_path_factory.mktemp("monitor") / "home")
    session = Session(hub=hub, project=hub.project("demo").as_user("tab-1"), author="ada")
    _training_pipeline(session)
    execution = asyncio.run(hub.orchestrator("demo").run("training", author="ada"))
    assert execution.status == "failed"
    yield session
    asyncio.run(hub.close())


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    hub = _hub(tmp_path / "home")
    yield Session(hub=hub, project=hub.project("demo").as_user("tab-1"), author="ada")
    asyncio.run(hub.close())


def _monitor(session: Session) -> ExecutionMonitor:
    return ExecutionMonitor(project=session.project, session=session)


def _graph_job(monitor: ExecutionMonitor, name: str) -> dict[str, Any]:
    return next(j for j in monitor.graph.jobs if j["name"] == name)


def _line_source(view: FigureView):
    return view.axes[0].lines[0]


# -- the monitor over a finished execution ------------------------------------------------------------
def test_empty_project_says_how_to_start(session: Session) -> None:
    monitor = _monitor(session)
    assert monitor.empty.visible and monitor.empty.object == EMPTY
    assert not monitor.table.visible and not monitor.detail.visible
    assert monitor.execution is None and monitor.job is None


def test_table_lists_the_execution_newest_first_with_its_commit(ran: Session) -> None:
    monitor = _monitor(ran)
    execution = ran.project.executions.all()[-1]
    table = monitor.table.value
    assert list(table.index) == [execution.id]
    row = table.loc[execution.id]
    assert row["status"] == "failed" and row["pipeline"] == "training" and row["author"] == "ada"
    assert row["commit"] == execution.commit[:10] and execution.commit == ran.project.log()[0].id
    assert row["duration"].endswith("s") and row["started"]
    assert monitor.table.selection == [0], "the newest execution is shown when none is selected"
    assert monitor.execution is not None and monitor.execution.id == execution.id
    assert "training" in monitor.header.object and 'data-status="failed"' in monitor.header.object
    assert f'<div class="df-execution-reason">{html.escape(execution.error.splitlines()[0])}' in monitor.header.object
    assert monitor.cancel.disabled and not monitor.cancel.visible, "a finished execution shows no Cancel"


def test_job_graph_mirrors_the_pipeline_and_colors_statuses(ran: Session) -> None:
    monitor = _monitor(ran)
    jobs = {j["name"]: j for j in monitor.graph.jobs}
    assert {n: j["status"] for n, j in jobs.items()} == {
        "prepare": "succeeded",
        "train": "succeeded",
        "explode": "failed",
        "report": "skipped",
    }
    assert {n: j["color"] for n, j in jobs.items()} == {n: STATUS_COLORS[j["status"]] for n, j in jobs.items()}
    assert STATUS_COLORS["failed"] != STATUS_COLORS["succeeded"] != STATUS_COLORS["skipped"]
    assert {n: j["depth"] for n, j in jobs.items()} == {"prepare": 0, "train": 1, "explode": 1, "report": 2}
    assert len({(j["depth"], j["row"]) for j in jobs.values()}) == 4, "no two boxes overlap"
    ids = {j["id"]: n for n, j in jobs.items()}
    assert sorted((ids[e["src"]], ids[e["dst"]]) for e in monitor.graph.edges) == [
        ("explode", "report"),
        ("prepare", "explode"),
        ("prepare", "train"),
    ]
    assert monitor.job is not None and monitor.job.name == "explode", "a failed job is shown first"
    assert monitor.graph.selected == monitor.job.id


def test_clicking_the_job_shown_by_default_keeps_it_shown(ran: Session) -> None:
    monitor = _monitor(ran)
    assert ran.job is None and monitor.job is not None, "a job is shown by default, none chosen"
    monitor.graph._handle_msg({"pick": monitor.graph.selected})  # what a click on the highlighted job sends
    assert ran.job == monitor.job.id, "chosen now: the monitor stops following whichever job runs"


def test_clicking_a_job_shows_its_console_progress_and_figures(ran: Session) -> None:
    monitor = _monitor(ran)
    train = _graph_job(monitor, "train")
    monitor.graph.selected = train["id"]  # what a click in the browser does
    assert ran.job == train["id"]
    assert monitor.job is not None and monitor.job.name == "train"
    assert 'data-status="succeeded"' in monitor.job_header.object and "train" in monitor.job_header.object
    assert "epoch 3 loss 0.250" in monitor.console.object and "df-stdout" in monitor.console.object
    assert (monitor.progress.value, monitor.progress.max) == (EPOCHS, EPOCHS)
    assert monitor.progress_label.object == f"epoch {EPOCHS}/{EPOCHS}"
    assert not monitor.error.visible
    (view,) = monitor.figure_views.values()
    assert monitor.figures.objects == [view.__panel__()]
    source = _line_source(view)
    assert source.data["y"] == pytest.approx([1 / (e + 1) for e in range(EPOCHS)])
    assert view.axes[0].figure.title.text == "training loss"
    (loss,) = monitor.metric_views.values()
    assert len(_line_source(loss).data["x"]) == EPOCHS


def test_a_refresh_never_flashes_an_empty_box_above_the_console(ran: Session) -> None:
    """Each visibility change reaches the browser on its own: shown-then-hidden is an empty box that blinks."""
    monitor = _monitor(ran)
    ran.job = _graph_job(monitor, "train")["id"]
    flips: list[tuple[str, bool]] = []
    for widget in (monitor.error, monitor.progress, monitor.progress_label):
        widget.param.watch(lambda e, w=widget: flips.append((type(w).__name__, e.new)), "visible")
    monitor.refresh()
    assert flips == [], "a refresh of a job without error showed and hid the error box"
    assert not monitor.error.visible and monitor.progress.visible


def test_going_back_to_a_job_streams_into_its_plots_instead_of_drawing_them_anew(ran: Session) -> None:
    monitor = _monitor(ran)
    root = pn.panel(monitor).get_root()
    ran.job = _graph_job(monitor, "train")["id"]
    (view,) = monitor.figure_views.values()
    (loss,) = monitor.metric_views.values()
    model, rebuilds = view.model, view.rebuilds
    assert model is not None and model.document is root.document
    ran.job = _graph_job(monitor, "explode")["id"]
    assert not monitor.figure_views and not monitor.figures.objects
    ran.job = _graph_job(monitor, "train")["id"]
    assert list(monitor.figure_views.values()) == [view] and list(monitor.metric_views.values()) == [loss]
    assert view.model is model and view.rebuilds == rebuilds, "the same plot, not a new one"
    assert monitor.figures.objects == [view.__panel__()]


def test_a_failed_job_shows_its_traceback_prominently(ran: Session) -> None:
    monitor = _monitor(ran)
    ran.job = _graph_job(monitor, "explode")["id"]
    assert monitor.error.visible and monitor.error.alert_type == "danger"
    assert "Traceback" in monitor.error.object and "ValueError: bad value 4" in monitor.error.object
    assert "checking data" in monitor.console.object
    assert "df-stderr" in monitor.console.object and "ValueError" in monitor.console.object
    assert not monitor.figure_views and not monitor.figures.objects and not monitor.progress.visible
    ran.job = _graph_job(monitor, "report")["id"]
    assert monitor.error.alert_type == "warning" and "upstream job explode failed" in monitor.error.object
    ran.job = None


def test_stderr_is_set_apart_and_red_only_when_the_job_failed(ran: Session) -> None:
    monitor = _monitor(ran)
    ran.job = _graph_job(monitor, "prepare")["id"]
    assert '<pre class="df-stderr">note: a library&#x27;s warning' in monitor.console.object
    ran.job = _graph_job(monitor, "explode")["id"]
    assert '<pre class="df-stderr df-failed">' in monitor.console.object
    ran.job = None
    assert ".df-stderr.df-failed { color: #ff8a80" in monitor.console.stylesheets[0]
    plain = monitor.console.stylesheets[0].split(".df-stderr {", 1)[1].split("}", 1)[0]
    assert "#ff8a80" not in plain


def test_download_report_gives_the_shown_execution_as_one_page(ran: Session) -> None:
    monitor = _monitor(ran)
    execution = monitor.execution
    assert execution is not None
    assert (
        monitor.report.filename == f"report-training-{execution.id}.html" and monitor.report.label == "Download report"
    )
    page = monitor.report_file()
    assert page is not None
    text = page.getvalue().decode()
    assert text.startswith("<!DOCTYPE html>") and f"execution <code>{execution.id}</code>" in text
    assert 'data-name="explode" data-status="failed"' in text and "ValueError: bad value 4" in text
    assert text.count("data-root-id=") == 2, "train's figure and its loss metric"


def test_models_build_for_a_browser(ran: Session) -> None:
    monitor = _monitor(ran)
    monitor.graph.selected = _graph_job(monitor, "train")["id"]
    assert isinstance(monitor.__panel__(), pn.viewable.Viewable)
    root = pn.panel(monitor).get_root()
    view = next(iter(monitor.figure_views.values()))
    assert view.model is not None and view.model.document is root.document
    ran.job = None


def test_selecting_a_row_selects_the_execution(session: Session) -> None:
    project = session.project
    pid = project.pipelines.create("quick")
    project.pipelines.add_node(pid, project.operations.add(PREPARE), name="prepare")
    orchestrator = session.hub.orchestrator("demo")
    first = asyncio.run(orchestrator.run("quick"))
    second = asyncio.run(orchestrator.run("quick"))
    monitor = _monitor(session)
    assert list(monitor.table.value.index) == [second.id, first.id]
    assert monitor.execution.id == second.id
    session.job = monitor.job.id
    monitor.table.selection = [1]
    assert session.execution == first.id and session.job is None and monitor.execution.id == first.id
    assert monitor.table.selection == [1]
    assert "preparing data" in monitor.console.object


def test_an_execution_that_arrived_in_parts_is_shown_as_pending_and_fills_in(session: Session) -> None:
    """A record synced before its fields (another process's run arriving) never breaks the monitor."""
    from pycrdt import Map

    project = session.project
    monitor = _monitor(session)
    with project.transaction():
        project.map("executions")["xhalf"] = Map({"pipeline_name": "train", "jobs": Map({"j1": Map({"name": "fit"})})})
    monitor.refresh()
    assert list(monitor.table.value.index) == ["xhalf"]
    assert monitor.table.value.loc["xhalf", "status"] == "pending" and monitor.table.value.loc["xhalf", "started"] == ""
    assert monitor.job is not None and monitor.job.name == "fit" and monitor.job.status == "pending"
    assert [j["status"] for j in monitor.graph.jobs] == ["pending"]
    with project.transaction():
        record = project.map("executions")["xhalf"]
        record["status"] = "failed"
        record["created"] = 1.0
        record["ended"] = 2.0
        record["jobs"]["j1"]["status"] = "failed"
        record["jobs"]["j1"]["error"] = "it broke"
    monitor.refresh()
    assert monitor.table.value.loc["xhalf", "status"] == "failed" and monitor.job.error == "it broke"


# -- live: a job streaming feedback -------------------------------------------------------------------
def test_figure_grows_in_place_while_the_job_runs(session: Session, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    _training_pipeline(session, gate=str(gate))
    monitor = _monitor(session)

    async def scenario() -> list[tuple[int, str, str]]:
        execution_id = session.run("training")
        assert execution_id is not None and session.execution == execution_id
        assert not monitor.cancel.disabled
        # Watch train throughout: left alone, the monitor moves on to the next running job once train ends.
        jobs = monitor.project.executions.get(execution_id).jobs.values()
        session.job = next(job.id for job in jobs if job.name == "train")
        seen = []
        for epoch in range(EPOCHS):
            (gate / str(epoch)).write_text("go")
            await async_wait_until(
                lambda epoch=epoch: (
                    monitor.job is not None
                    and monitor.job.name == "train"
                    and monitor.figure_views
                    and len(_line_source(next(iter(monitor.figure_views.values()))).data["y"]) == epoch + 1
                    # Printed lines and figures travel on separate channels: either may be shown first.
                    and f"epoch {epoch} loss" in monitor.console.object
                ),
                timeout=30,
                message=f"epoch {epoch} drawn and printed",
            )
            (view,) = monitor.figure_views.values()
            # After the last epoch's line the job may already have ended.
            status = _graph_job(monitor, "train")["status"]
            assert status == "running" or (epoch == EPOCHS - 1 and status == "succeeded")
            assert _graph_job(monitor, "train")["color"] == STATUS_COLORS[status]
            assert monitor.progress.value == epoch + 1 and monitor.progress.max == EPOCHS
            seen.append((view.rebuilds, view.axes[0].figure.id, _line_source(view).id))
        await session.hub.orchestrator("demo").wait(execution_id)
        await async_wait_until(lambda: monitor.execution.status == "failed", timeout=5, message="final status shown")
        return seen

    seen = asyncio.run(scenario())
    assert len(set(seen)) == 1, f"the Bokeh figure and source were kept while the curve grew: {seen}"
    assert seen[0][0] == 1
    assert monitor.cancel.disabled and monitor.table.value.iloc[0]["status"] == "failed"
    assert _graph_job(monitor, "train")["status"] == "succeeded"


def test_cancel_button_stops_the_running_execution(session: Session, tmp_path: Path) -> None:
    project = session.project
    pid = project.pipelines.create("slow")
    started = tmp_path / "started"
    project.pipelines.add_node(pid, project.operations.add(SLEEP), name="sleeper", attributes={"started": str(started)})
    monitor = _monitor(session)

    async def scenario() -> str:
        execution_id = session.run("slow")
        await async_wait_until(started.exists, timeout=30, message="job started")
        await async_wait_until(lambda: monitor.job.status == "running", timeout=5, message="running shown")
        assert monitor.cancel.visible and not monitor.cancel.disabled
        assert monitor.progress.visible and monitor.progress.value == -1
        monitor.cancel.clicks += 1
        await session.hub.orchestrator("demo").wait(execution_id)
        await async_wait_until(lambda: monitor.execution.status == "cancelled", timeout=5, message="cancel shown")
        return execution_id

    asyncio.run(scenario())
    assert monitor.cancel.disabled and not monitor.cancel.visible, "Cancel disappears when the run ends"
    assert _graph_job(monitor, "sleeper")["status"] == "cancelled"
    assert monitor.table.value.iloc[0]["status"] == "cancelled"


def test_durations_count_up_while_running_without_document_changes(session: Session, tmp_path: Path) -> None:
    project = session.project
    pid = project.pipelines.create("slow")
    started = tmp_path / "started"
    project.pipelines.add_node(pid, project.operations.add(SLEEP), name="sleeper", attributes={"started": str(started)})
    monitor = _monitor(session)

    def shown() -> tuple[str, str, str]:
        return monitor.header.object, monitor.job_header.object, monitor.table.value.iloc[0]["duration"]

    async def scenario() -> None:
        execution_id = session.run("slow")
        await async_wait_until(started.exists, timeout=30, message="job started")
        await async_wait_until(lambda: monitor.job.status == "running", timeout=5, message="running shown")
        assert monitor.running
        before = shown()
        # The sleeper prints nothing: only the clock can change what is shown.
        await async_wait_until(
            lambda: (monitor.tick(), all(a != b for a, b in zip(shown(), before, strict=False)))[1],
            timeout=5,
            message="durations moved",
        )
        session.hub.orchestrator("demo").cancel(execution_id)
        await session.hub.orchestrator("demo").wait(execution_id)
        await async_wait_until(lambda: not monitor.running, timeout=5, message="cancel shown")

    asyncio.run(scenario())
    final = monitor.header.object
    monitor.tick()
    assert monitor.header.object == final


# -- FigureView ---------------------------------------------------------------------------------------
def _curve(ys: list[float], title: str = "loss", markers: str = "") -> dict[str, Any]:
    return {
        "suptitle": "",
        "width": 640,
        "height": 480,
        "axes": [
            {
                "title": title,
                "xlabel": "epoch",
                "ylabel": "loss",
                "xlim": [0.0, max(len(ys) - 1, 1)],
                "ylim": [0.0, 1.0],
                "xscale": "linear",
                "yscale": "linear",
                "legend": False,
                "position": [0.125, 0.11, 0.775, 0.77],
                "lines": [
                    {
                        "x": [float(i) for i in range(len(ys))],
                        "y": ys,
                        "label": "",
                        "color": "#1f77b4",
                        "alpha": 1.0,
                        "linestyle": "-",
                        "linewidth": 1.5,
                        "marker": markers,
                    }
                ],
                "scatter": [],
                "bars": [],
                "images": [],
                "texts": [],
            }
        ],
    }


def test_figure_view_streams_points_that_extend_the_curve() -> None:
    view = FigureView(_curve([1.0, 0.5]))
    figure, source = view.axes[0].figure, _line_source(view)
    doc = Document()
    doc.add_root(view.model)
    events: list[Any] = []
    doc.on_change(events.append)

    view.update(_curve([1.0, 0.5, 0.25], title="loss (epoch 3)"))
    streams = [e for e in events if isinstance(e, ColumnsStreamedEvent)]
    assert [e.data for e in streams] == [{"x": [2.0], "y": [0.25]}]
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)], "no full data replacement"
    assert source.data["y"] == [1.0, 0.5, 0.25]
    assert view.axes[0].figure is figure and _line_source(view) is source and view.rebuilds == 1
    assert figure.title.text == "loss (epoch 3)" and figure.x_range.end == 2.0
    assert figure.xaxis.axis_label == "epoch"
    events.clear()
    view.update(_curve([1.0, 0.5, 0.25], title="loss (epoch 3)"))
    assert events == [], "an unchanged figure sends nothing"


def _many_series_and_an_image(steps: int) -> dict[str, Any]:
    fig = Figure(figsize=(8, 4))
    curves, picture = fig.subplots(1, 2)
    for series in range(30):
        curves.plot(range(steps), [series + 0.1 * s for s in range(steps)], label=f"s{series}")
    picture.imshow([[float(r * c) for c in range(1000)] for r in range(600)], cmap="viridis")
    return figure_to_data(fig)


def test_figure_view_with_many_series_and_a_large_image_sends_only_new_points() -> None:
    view = FigureView(_many_series_and_an_image(steps=5))
    image = view.axes[1].images[0].data["image"][0]
    assert max(image.shape) <= 128, f"a large image is drawn downsampled, not {image.shape}"
    doc = Document()
    doc.add_root(view.model)
    events: list[Any] = []
    doc.on_change(events.append)

    view.update(_many_series_and_an_image(steps=6))
    streams = [e for e in events if isinstance(e, ColumnsStreamedEvent)]
    assert len(streams) == 30 and all(len(e.data["y"]) == 1 for e in streams), "one new point per series"
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)], "the unchanged image is not re-sent"
    assert view.rebuilds == 1


def test_figure_view_replaces_data_that_changed_and_rebuilds_new_structure() -> None:
    view = FigureView(_curve([1.0, 0.5, 0.25]))
    figure, source = view.axes[0].figure, _line_source(view)
    view.update(_curve([0.9, 0.4]))
    assert source.data["y"] == [0.9, 0.4] and view.axes[0].figure is figure and view.rebuilds == 1

    view.update(_curve([0.9, 0.4], markers="o"))
    assert view.rebuilds == 2 and view.axes[0].figure is not figure
    assert view.model is view.axes[0].figure and view.axes[0].marker_renderers[0] is not None


def test_figure_view_draws_scatter_bars_images_texts_and_subplots() -> None:
    fig = Figure(figsize=(8, 6))
    fig.suptitle("overview")
    (top_left, top_right), (bottom_left, bottom_right) = fig.subplots(2, 2)
    top_left.scatter([1, 2, 3], [3, 1, 2], c=["red", "green", "blue"], label="points")
    top_left.legend()
    top_right.bar(["a", "b"], [2, 5])
    bottom_left.imshow([[0, 1, 2], [3, 4, 5]], cmap="magma")
    bottom_left.text(0, 0, "origin")
    bottom_right.plot([1, 10, 100])
    bottom_right.set_yscale("log")
    view = FigureView(figure_to_data(fig))

    assert view.title.visible and "overview" in view.title.object
    assert len(view.axes) == 4 and view.model is not None and view.model is not view.axes[0].figure
    scatter = view.axes[0].scatter[0].data
    assert scatter["y"] == [3.0, 1.0, 2.0] and scatter["color"] == ["#ff0000", "#008000", "#0000ff"]
    assert [item.label.value for item in view.axes[0].legend.items] == ["points"]
    bars = view.axes[1].bars[0].data
    assert [t - b for t, b in zip(bars["top"], bars["bottom"], strict=False)] == [2.0, 5.0]
    image = view.axes[2].images[0].data
    assert image["image"][0].shape == (2, 3) and image["image"][0][0, 0] == 0.0
    assert view.axes[2].color_mappers[0].palette == palette_for("magma")
    assert view.axes[2].texts.data["text"] == ["origin"]
    assert view.axes[3].figure.y_scale.__class__.__name__ == "LogScale"
    assert pn.panel(view).get_root() is not None


def test_palettes_follow_matplotlib_names() -> None:
    assert palette_for("viridis")[0] == palette_for("no-such-map")[0] == "#440154"
    assert palette_for("gray")[0] == "#000000" and palette_for("gray_r")[0] == "#ffffff"
    assert palette_for("Blues")[0] == "#f7fbff", "light to dark, as matplotlib draws Blues"


def test_natural_key_reads_numbers_by_value() -> None:
    names = ["metric 10", "metric 2", "Metric 1", "loss", "lr 0.25", "lr 0.5", "10", "2", "a01", "a1", "metric"]
    assert sorted(names, key=natural_key) == [
        "2",
        "10",
        "a01",
        "a1",
        "loss",
        "lr 0.25",
        "lr 0.5",
        "metric",
        "Metric 1",
        "metric 2",
        "metric 10",
    ]


def test_figures_and_metrics_are_shown_in_natural_order(session: Session) -> None:
    monitor = _monitor(session)
    figure = figure_to_data(Figure())
    series = [(0, 1.0), (1, 0.5)]
    job = Job(
        id=JobId("j1"),
        node="n1",
        name="train",
        operation="o1",
        status="succeeded",
        queued=None,
        started=None,
        ended=None,
        stdout="",
        stderr="",
        error="",
        attributes={},
        progress={},
        metrics={name: series for name in ("metric 10", "metric 2", "metric 1")},
        figures={number: figure for number in ("10", "2", "1")},
        inputs={},
        outputs={},
    )
    monitor._update_job(job)
    assert list(monitor.figure_views) == ["1", "2", "10"]
    assert monitor.figures.objects == [monitor.figure_views[key].__panel__() for key in ("1", "2", "10")]
    assert list(monitor.metric_views) == ["metric 1", "metric 2", "metric 10"]
    titles = [view.axes[0].figure.title.text for view in monitor.metric_views.values()]
    assert titles == ["metric 1", "metric 2", "metric 10"]


def test_new_executions_never_rebuild_the_table_in_the_browser(session: Session) -> None:
    """The browser's table is rebuilt whenever its configuration changes, and a status patch that arrives
    during that rebuild is lost (Panel's Tabulator view skips data updates while it builds): so adding rows
    keeps the configuration as it was, and a long list pages instead of growing the table."""
    project = session.project
    pid = project.pipelines.create("quick")
    project.pipelines.add_node(pid, project.operations.add(PREPARE), name="prepare")
    orchestrator = session.hub.orchestrator("demo")
    monitor = _monitor(session)
    pn.panel(monitor).get_root()
    table, _parent = next(iter(monitor.table._models.values()))  # the Bokeh model a browser would render
    asyncio.run(orchestrator.run("quick"))
    monitor.refresh()
    first = dict(table.configuration)
    for _ in range(TABLE_ROWS + 1):
        asyncio.run(orchestrator.run("quick"))
        monitor.refresh()
    assert len(monitor.table.value) == TABLE_ROWS + 2
    assert dict(table.configuration) == first
    assert monitor.table.page_size == TABLE_ROWS and table.max_page == 2


def test_a_cached_job_opens_the_run_that_made_its_outputs(tmp_path: Path) -> None:
    from deepforge_panel.components.execution_monitor import ExecutionMonitor
    from tests.deepforge_panel.test_orchestrator import _chain

    hub = ProjectHub(Workspace(tmp_path / "home", examples=False))
    hub.create("chain")
    project = hub.project("chain")
    _chain(project)
    session = Session(hub=hub, project=project)
    monitor = ExecutionMonitor(project=project, session=session)

    async def twice() -> tuple[str, str]:
        orchestrator = session.orchestrator()
        first = await orchestrator.run("chain")
        second = await orchestrator.run("chain")
        return first.id, second.id

    first, second = asyncio.run(twice())
    made = project.executions.get(first).job("d")
    session.param.update(execution=second, job=project.executions.get(second).job("d").id)
    assert "df-status-cached" in monitor.job_header.object and monitor.made_by.visible
    assert "cached: same code, attributes and inputs as job d" in monitor.console.object
    monitor.made_by.clicks += 1
    assert (session.execution, session.job) == (first, made.id)
    assert not monitor.made_by.visible and "df-status-succeeded" in monitor.job_header.object
