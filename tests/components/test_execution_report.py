"""The execution report: one self-contained HTML page of a real execution (local subprocesses), from Python and
from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.components.execution_report import CONSOLE_LINES, execution_report, report_filename
from deepforge_panel.errors import NotFound
from deepforge_panel.executions import Execution
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project
from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import cli

HOSTILE = 'plot <img src=x onerror=alert(1)> & "quotes"'
PIPELINE = "curves <script>alert(2)<\u2215script>"

SOURCE = "class Number:\n    def execute(self):\n        data = 3.0\n        return data\n"
PLOT = """
import matplotlib.pyplot as plt
from deepforge import metric

class Plot:
    def execute(self, data):
        for step in range(60):
            print(f"line {step} <b>&</b>", flush=True)
            metric("loss", data / (step + 1), step)
        print("careful: <i>stderr</i>", file=__import__("sys").stderr, flush=True)
        plt.plot([1, 3, 2], label="curve")
        plt.title("a figure")
        plt.show()
        drawn = data
        return drawn
"""
FAIL = "class Fail:\n    def execute(self):\n        raise ValueError('broken <on purpose>')\n"


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the text outside scripts and styles."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._inside: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside is None:
            self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Execution, Execution]]:
    """A project whose pipeline PIPELINE (number -> HOSTILE, which prints, logs a metric and draws) succeeded,
    and whose pipeline ``broken`` failed after it."""
    folder = tmp_path_factory.mktemp("report")
    project = Workspace(folder / "home", examples=False).create("reported")
    pid = project.pipelines.create(PIPELINE)
    number = project.pipelines.add_node(pid, project.operations.add(SOURCE), name="number")
    plot = project.pipelines.add_node(pid, project.operations.add(PLOT), name=HOSTILE)
    project.pipelines.add_edge(pid, number, "data", plot, "data")
    broken = project.pipelines.create("broken")
    project.pipelines.add_node(broken, project.operations.add(FAIL), name="fail")
    orchestrator = Orchestrator(project, compute("local"), storage((folder / "artifacts").as_uri()), folder / "jobs")
    good = asyncio.run(orchestrator.run(pid))
    bad = asyncio.run(orchestrator.run(broken))
    assert (good.status, bad.status) == ("succeeded", "failed")
    yield project, good, bad
    project.close()


def test_the_report_shows_the_graph_jobs_console_metrics_and_figures(ran: Any) -> None:
    project, good, _bad = ran
    page = execution_report(project, good.id)
    tags = Tags(page)
    text = "".join(tags.text)

    assert f"{PIPELINE} · execution {good.id} · reported" in text, "the title names pipeline, execution, project"
    jobs = {attrs.get("data-name"): attrs.get("data-status") for attrs in tags.named("g")}
    assert jobs == {"number": "succeeded", HOSTILE: "succeeded"}, "the graph has every job, coloured by status"
    assert len(tags.named("path")) == 1, "and the edge between them"
    sections = {attrs["id"]: attrs.get("data-status") for attrs in tags.named("section") if attrs.get("id")}
    assert sorted(sections.values()) == ["succeeded", "succeeded"]
    assert "operation Plot" in text and "outputs" in text and "sha256" in text

    assert "line 59 <b>&</b>" in text and "careful: <i>stderr</i>" in text
    assert f"line {59 - CONSOLE_LINES} " not in text and f"line {60 - CONSOLE_LINES} " in text, "the last lines only"
    assert "line 59 &lt;b&gt;&amp;&lt;/b&gt;" in page, "console text is escaped"

    metrics = page.split('<table class="metrics">')[1].split("</table>")[0]
    assert "<td>loss</td><td>60</td><td>0.05</td><td>0.05</td><td>3</td>" in metrics
    roots = [attrs for attrs in tags.named("div") if "data-root-id" in attrs]
    assert len(roots) == 2, "the figure and the loss metric are interactive Bokeh plots"
    assert "Bokeh.embed.embed_items" in page and "/* BEGIN bokeh.min.js */" in page, "BokehJS is inline"


def test_the_report_refers_to_nothing_outside_itself(ran: Any) -> None:
    project, good, _bad = ran
    tags = Tags(execution_report(project, good.id))
    for tag, attrs in tags.tags:
        for name in ("src", "href", "data", "srcset", "poster"):
            value = attrs.get(name) or ""
            assert value == "" or value.startswith("#"), f"<{tag} {name}={value!r}> would be a request"
    assert not tags.named("link") and not tags.named("img") and not tags.named("iframe")


def test_names_and_outputs_from_users_and_jobs_are_escaped(ran: Any) -> None:
    project, good, _bad = ran
    page = execution_report(project, good.id)
    tags = Tags(page)
    assert not tags.named("img") and not tags.named("i"), "no job or console text became markup"
    scripts = tags.named("script")
    assert all(attrs == {} for attrs in scripts) and len(scripts) == 3, "BokehJS, its log level and the plots only"
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "plot &lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;" in page
    assert "curves &lt;script&gt;alert(2)" in page


def test_a_failed_execution_says_why(ran: Any) -> None:
    project, _good, bad = ran
    page = execution_report(project, bad.id)
    tags = Tags(page)
    text = "".join(tags.text)
    assert [(a.get("data-name"), a.get("data-status")) for a in tags.named("g")] == [("fail", "failed")]
    assert "ValueError: broken <on purpose>" in text
    assert not any("data-root-id" in attrs for attrs in tags.named("div")) and not tags.named("script")
    assert len(page) < 30_000, "a report without figures carries no BokehJS"


def test_an_execution_is_found_by_id_pipeline_name_or_latest(ran: Any) -> None:
    project, good, bad = ran
    assert project.executions.find(good.id).id == good.id
    assert project.executions.find("latest").id == bad.id
    assert project.executions.find(PIPELINE).id == good.id
    assert project.executions.find("broken").id == bad.id
    with pytest.raises(NotFound, match=rf"no execution 'nope' in project 'reported'.*{bad.id} \(broken\)"):
        execution_report(project, "nope")


def test_the_file_name_is_safe(ran: Any) -> None:
    _project, good, _bad = ran
    name = report_filename(good)
    assert name == f"report-curves_script_alert_2_script_-{good.id}.html"


def test_the_command_line_writes_the_report_and_refuses_what_it_cannot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = Workspace(home, examples=False).create("cli")
    pid = project.pipelines.create("one")
    project.pipelines.add_node(pid, project.operations.add(SOURCE), name="number")
    project.close()
    assert cli("run", "cli", "one", home=home).returncode == 0

    out = tmp_path / "one.html"
    done = cli("report", "cli", "one", "--out", str(out), home=home)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'data-name="number" data-status="succeeded"' in page

    unknown = cli("report", "cli", "nope", "--out", str(tmp_path / "x.html"), home=home)
    assert unknown.returncode == 2 and not (tmp_path / "x.html").exists()
    assert "deepforge-panel: no execution 'nope' in project 'cli'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    nowhere = cli("report", "cli", "latest", "--out", str(tmp_path / "missing" / "x.html"), home=home)
    assert nowhere.returncode == 2 and "cannot write the report to" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
