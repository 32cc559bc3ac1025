"""Stored XSS: markup in names, code, output, figures and messages shows as text in every tab and never runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from deepforge_panel.crdt import Home
from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.project import Project

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
PROJECT = "hostile-names"

IMG = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'
SCRIPT = "<script>window.__xss=(window.__xss||0)+1</script>"
FENCED = "x` ``` " + IMG
"""Backticks first: a name that closes a code span or a fenced block, then markup."""

HOSTILE_OP = f'''
import sys

import matplotlib.pyplot as plt


class Hostile:
    """Makes data. {IMG} {SCRIPT}"""

    def __init__(self, label: str = {IMG!r}):
        self.label = label

    def execute(self):
        print({IMG!r})
        print({SCRIPT!r}, file=sys.stderr)
        figure, axes = plt.subplots()
        axes.plot([0, 1], [0, 1], label={IMG!r})
        axes.set_title({IMG!r})
        axes.set_xlabel({SCRIPT!r})
        axes.set_ylabel({FENCED!r})
        axes.text(0.5, 0.5, {SCRIPT!r})
        axes.legend()
        figure.suptitle({FENCED!r})
        plt.show()
        data = {IMG!r}
        return data
'''

EXPLODE_OP = f"""
class Explode:
    def execute(self, data):
        raise ValueError(data + {FENCED!r} + {SCRIPT!r})
"""

CONTROL = """() => new Promise(resolve => {
  const img = document.createElement('img');
  img.onerror = () => { img.remove(); resolve(true); };
  img.src = 'x?control=' + Math.random();
  document.body.appendChild(img);
})"""
"""An image that fails to load like the hostile ones: once its handler ran, theirs would have run too."""


def build_hostile_project(home: Path) -> str:
    """A project whose every user-chosen string is markup, with one run (a job that succeeds, one that fails)."""
    project = Project.open(Home(home).create(PROJECT))
    try:
        hostile = project.operations.add(HOSTILE_OP)
        explode = project.operations.add(EXPLODE_OP)
        pid = project.pipelines.create(IMG)
        source = project.pipelines.add_node(pid, hostile, name=FENCED, x=0, y=0)
        target = project.pipelines.add_node(pid, explode, name=IMG, x=0, y=300)
        project.pipelines.add_edge(pid, source, "data", target, "data")
        ArchitecturesView(project).create(IMG)
        with project.transaction():
            # As a peer or an old project could have them: names no view would accept.
            project.operations.record(explode)["name"] = SCRIPT
            project.pipelines.record(pid)["nodes"][target]["name"] = SCRIPT
        project.commit(f"```\n{IMG}\n{SCRIPT}", author=IMG)
        project.branch(IMG)
    finally:
        project.close()
    done = subprocess.run(
        [sys.executable, "-m", "deepforge_panel.cli", "run", PROJECT, pid, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 1 and "ValueError" in done.stdout + done.stderr, done.stdout + done.stderr
    return pid


def test_hostile_strings_render_as_text_in_every_tab(server: Any, new_tab: Any, screenshots: Path) -> None:
    build_hostile_project(server.home)
    tab = new_tab()
    tab.expected.append("/x?control=")  # CONTROL's image fails to load on purpose
    page = tab.page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    def nothing_ran(where: str) -> None:
        page.evaluate(CONTROL)
        assert page.evaluate("window.__xss") is None, f"a hostile handler ran ({where})"
        assert dialogs == [], f"a dialog opened ({where}): {dialogs}"

    def visible(selector: str) -> Any:
        return page.locator(f"{selector}:visible")

    page.goto(f"{server.url}?project={PROJECT}")
    expect(page.locator(".react-flow__node")).to_have_count(2, timeout=TIMEOUT)
    for label, code in ((FENCED, "class Hostile"), (SCRIPT, "class Explode")):
        node = page.locator(".react-flow__node").filter(has=page.locator(".rf-node-label", has_text=label))
        node.click()
        expect(visible(".ace_content").filter(has_text=code)).to_have_count(1, timeout=TIMEOUT)
        nothing_ran(f"pipelines, node {label}")
        expect(visible("h3").filter(has_text=label)).to_have_count(1, timeout=TIMEOUT)
    nothing_ran("pipelines")

    page.locator(".bk-tab", has_text="Architectures").click()
    expect(visible("select").first).to_be_visible(timeout=TIMEOUT)
    nothing_ran("architectures")

    page.locator(".bk-tab", has_text="Executions").click()
    page.locator(".tabulator-row", has_text="failed").click()
    expect(page.locator("g.df-job")).to_have_count(2, timeout=TIMEOUT)
    page.locator("g.df-job[data-status='failed']").click()
    expect(visible(".df-job-error")).to_have_count(1, timeout=TIMEOUT)
    nothing_ran("executions, the failed job")
    expect(visible(".df-job-error").filter(has_text=SCRIPT)).to_have_count(1, timeout=TIMEOUT)
    page.locator("g.df-job[data-status='succeeded']").click()
    expect(visible(".df-console").filter(has_text="window.__xss")).to_have_count(1, timeout=TIMEOUT)
    nothing_ran("executions, the job that succeeded")
    expect(visible(".df-console").filter(has_text=IMG)).to_have_count(1, timeout=TIMEOUT)
    expect(visible("strong").filter(has_text=FENCED)).to_have_count(1, timeout=TIMEOUT)  # the figure's suptitle
    page.screenshot(path=screenshots / "hostile-executions.png")
    nothing_ran("executions")

    page.locator(".bk-tab", has_text="Artifacts").click()
    page.locator(".tabulator-row", has_text=f"{FENCED}.data").click()
    expect(page.get_by_role("button", name="Recreate pipeline")).to_be_enabled(timeout=TIMEOUT)
    nothing_ran("artifacts, the selected artifact")
    expect(visible("h3").filter(has_text=f"{FENCED}.data")).to_have_count(1, timeout=TIMEOUT)
    page.get_by_role("button", name="Recreate pipeline").click()
    expect(page.locator(".react-flow__node")).to_have_count(1, timeout=TIMEOUT)
    page.screenshot(path=screenshots / "hostile-recreated.png")
    nothing_ran("artifacts, the recreated pipeline")

    page.locator(".bk-tab", has_text="History").click()
    for message in ("Run pipeline", SCRIPT):
        page.locator(".tabulator-row", has_text=message).first.click()  # the commit list comes before the preview
        expect(visible("h4").filter(has_text="(read-only)")).to_have_count(1, timeout=TIMEOUT)
        nothing_ran(f"history, commit {message}")
    expect(visible("p").filter(has_text=SCRIPT)).not_to_have_count(0, timeout=TIMEOUT)
    page.screenshot(path=screenshots / "hostile-history.png")

    page.goto(server.url)
    page.wait_for_selector("a.df-open", timeout=TIMEOUT)
    nothing_ran("start page")
