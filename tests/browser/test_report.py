"""Issue 15, point 5: an execution's report opens from a file in Chromium with the network blocked, draws its
figures and asks for nothing; the execution monitor's Download report button saves the same kind of file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT
from tests.deepforge_panel.helpers import cli as run_cli

pytestmark = pytest.mark.browser

PLOT = """
import matplotlib.pyplot as plt
from deepforge import metric

class Curve:
    def __init__(self, points: int = 5):
        self.points = points

    def execute(self, data):
        values = [data / (i + 1) for i in range(self.points)]
        for step, value in enumerate(values):
            print(f"step {step}: {value:.3f} <b>bold?</b>", flush=True)
            metric("loss", value, step)
        plt.plot(values, label="loss")
        plt.title("Training loss")
        plt.legend()
        plt.show()
        curve = values
        return curve
"""
SOURCE = "class Number:\n    def execute(self):\n        data = 3.0\n        return data\n"
HOSTILE = "curve <img src=x onerror=alert(1)>"

PAINTED = """() => {
  const all = (root) => [...root.querySelectorAll('canvas'),
    ...[...root.querySelectorAll('*')].filter((el) => el.shadowRoot).flatMap((el) => all(el.shadowRoot))];
  return all(document).filter((canvas) => {
    if (!canvas.width || !canvas.height) return false;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
    return inked > 500;
  }).length;
}"""
"""How many canvases (in Bokeh's shadow roots too) have something drawn on them."""


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    done = run_cli(*args, home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def add_curve_pipeline(project: Any) -> None:
    """Pipeline ``curve``: a number feeding a job (with a hostile name) that prints, logs a metric and plots."""
    pid = project.pipelines.create("curve")
    number = project.pipelines.add_node(pid, project.operations.add(SOURCE), name="number")
    curve = project.pipelines.add_node(pid, project.operations.add(PLOT), name=HOSTILE)
    project.pipelines.add_edge(pid, number, "data", curve, "data")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report written by ``deepforge-panel report`` of a run made by ``deepforge-panel run``."""
    from deepforge_panel.workspace import Workspace

    folder = tmp_path_factory.mktemp("report")
    home = folder / "home"
    project = Workspace(home, examples=False).create("reported")
    add_curve_pipeline(project)
    project.close()
    cli("run", "reported", "curve", home=home)
    out = folder / "curve.html"
    cli("report", "reported", "latest", "--out", str(out), home=home)
    return out


def open_offline(browser: Any, url: str, scheme: str) -> tuple[Any, list[str], list[str]]:
    """A page showing ``url`` in ``scheme``: every other request is aborted and recorded, as are dialogs and errors."""
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    problems: list[str] = []

    def route(routed: Any) -> None:
        if routed.request.url == url:
            routed.continue_()
        else:
            requested.append(routed.request.url)
            routed.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda r: None if r.url == url else requested.append(r.url))
    page.on("pageerror", lambda e: problems.append(f"error: {e}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(url)
    return page, requested, problems


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_report_opens_offline_draws_its_figures_and_requests_nothing(
    browser: Any, report_file: Path, scheme: str
) -> None:
    page, requested, problems = open_offline(browser, report_file.as_uri(), scheme)
    try:
        expect(page.locator("h1")).to_contain_text("curve")
        expect(page.locator("h1 .status")).to_have_text("succeeded")
        expect(page.locator("svg.graph g.job")).to_have_count(2)
        expect(page.locator(f"svg.graph g.job[data-name='{HOSTILE}']")).to_have_attribute("data-status", "succeeded")
        expect(page.locator("table.jobs")).to_contain_text(HOSTILE)
        expect(page.locator("pre.console").last).to_contain_text("step 4: 0.600 <b>bold?</b>")
        expect(page.locator("table.metrics")).to_contain_text("loss")
        expect(page.locator(".bk-Figure")).to_have_count(2, timeout=TIMEOUT)  # the figure and the loss metric
        page.wait_for_function(f"() => ({PAINTED})() >= 2", timeout=TIMEOUT)
        assert page.evaluate("() => Bokeh.documents.flatMap((doc) => doc.roots()).length") == 2
        assert page.locator("img").count() == 0, "a job's name became markup"
        page.locator(".bk-Figure").first.scroll_into_view_if_needed()
        page.screenshot(path=f"/tmp/report-{scheme}.png", full_page=True)
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(13, 17, 23)") == (scheme == "dark"), background
    finally:
        page.context.close()
    assert requested == [], f"the report asked for {requested}"
    assert problems == [], problems


def test_download_report_in_the_monitor_saves_a_report_that_stands_alone(
    server: Any, project: str, new_tab: Any, browser: Any, screenshots: Path, tmp_path: Path
) -> None:
    from deepforge_panel.crdt import Home
    from deepforge_panel.project import Project

    store = Home(server.home).open(project)
    try:
        add_curve_pipeline(Project.open(store))
    finally:
        store.close()
    cli("run", project, "curve", home=server.home)

    tab = new_tab()
    page = tab.page
    page.goto(f"{server.url}?project={project}")
    page.locator(".bk-tab", has_text="Executions").click(timeout=TIMEOUT)
    page.locator(f"g.df-job[data-name='{HOSTILE}'][data-status='succeeded']").wait_for(timeout=TIMEOUT)
    button = page.locator(".bk-btn:visible", has_text="Download report")
    page.screenshot(path=screenshots / "report-button.png")
    with page.expect_download(timeout=TIMEOUT) as started:
        button.click()
    name = started.value.suggested_filename
    assert re.fullmatch(r"report-curve-x\w+\.html", name)
    saved = tmp_path / name  # the browser keeps a download under a random name, which opens as text
    started.value.save_as(saved)

    offline, requested, problems = open_offline(browser, saved.as_uri(), "light")
    try:
        expect(offline.locator("h1")).to_contain_text("curve")
        expect(offline.locator(f"svg.graph g.job[data-name='{HOSTILE}']")).to_have_attribute("data-status", "succeeded")
        offline.wait_for_function(f"() => ({PAINTED})() >= 2", timeout=TIMEOUT)
    finally:
        offline.context.close()
    assert requested == [] and problems == [], (requested, problems)
