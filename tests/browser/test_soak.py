"""A bounded, seeded soak: the server, two CLI runs and a browser editing one project at once.

At the end the page, the CLI and a fresh open of the store agree on executions, artifacts and commits:
nothing another process appended is lost to the open server, and nothing is stuck running.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from deepforge_panel.crdt import Home
from deepforge_panel.project import Project
from tests.browser.test_workbench import TIMEOUT
from tests.deepforge_panel.helpers import ADD, SOURCE

pytestmark = pytest.mark.browser
RUNS_PER_CLI = 2
EDITS = 6
SEED = 20261130


def _runner(home: Path) -> subprocess.Popen[str]:
    """One CLI process after another would serialize; a shell loop keeps each CLI stream sequential."""
    runs = " && ".join(
        f"{sys.executable} -m deepforge_panel.cli run soak chain --no-cache --home {home}" for _ in range(RUNS_PER_CLI)
    )
    return subprocess.Popen(
        ["bash", "-c", runs],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def _make_project(home: Path) -> None:
    project = Project.open(Home(home).create("soak"))
    try:
        with project.transaction():
            project.meta["name"] = "soak"
        source, add = project.operations.add(SOURCE), project.operations.add(ADD)
        chain = project.pipelines.create("chain")
        first = project.pipelines.add_node(chain, source, name="source")
        second = project.pipelines.add_node(chain, add, name="add")
        project.pipelines.add_edge(chain, first, "data", second, "data")
        project.pipelines.create("scratch")
        project.commit("Create the soak project", author="test")
    finally:
        project.close()


def test_server_cli_runs_and_browser_edits_agree(server: Any, new_tab: Any, screenshots: Path) -> None:
    rng = random.Random(SEED)
    _make_project(server.home)
    page = new_tab().page
    page.goto(f"{server.url}?project=soak")
    page.locator("select").first.select_option(label="scratch")

    runners = [_runner(server.home), _runner(server.home)]
    try:
        for _ in range(EDITS):
            page.locator("select").nth(1).select_option(rng.choice(["Source", "Add"]))
            page.get_by_role("button", name="Add node").click()
        expect(page.locator(".react-flow__node")).to_have_count(EDITS, timeout=TIMEOUT)
    finally:
        outputs = [runner.communicate(timeout=240)[0] for runner in runners]
    for runner, output in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, output

    fresh = Project.open(Home(server.home).open("soak"))
    try:
        executions = fresh.executions.all()
        artifacts = fresh.artifacts.all()
        commits = fresh.log()
        scratch = fresh.pipelines.find("scratch")
    finally:
        fresh.close()
    assert len(executions) == 2 * RUNS_PER_CLI
    assert {e.status for e in executions} == {"succeeded"}, "nothing is stuck running"
    assert len(artifacts) == 2 * len(executions)
    assert len(scratch.nodes) == EDITS, "every browser edit reached the store"

    log = subprocess.run(
        [sys.executable, "-m", "deepforge_panel.cli", "log", "soak", "--home", str(server.home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert log.returncode == 0, log.stderr
    assert [line.split()[0] for line in log.stdout.splitlines() if line] == [c.id for c in commits]

    expect(page.locator(".bk-tab", has_text="Executions")).to_be_visible()
    page.locator(".bk-tab", has_text="Executions").click()
    statuses = page.locator(".tabulator-cell[tabulator-field='status']:visible")
    expect(statuses).to_have_count(len(executions), timeout=TIMEOUT)
    expect(statuses.filter(has_text="succeeded")).to_have_count(len(executions), timeout=TIMEOUT)
    page.locator(".bk-tab", has_text="Artifacts").click()
    hashes = page.locator(".tabulator-cell[tabulator-field='hash']:visible")
    expect(hashes).to_have_count(len(artifacts), timeout=TIMEOUT)
    assert sorted(hashes.all_inner_texts()) == sorted(a.hash[:12] for a in artifacts)
    page.locator(".bk-tab", has_text="History").click()
    ids = page.locator(".tabulator-cell[tabulator-field='id']:visible")
    expect(ids).to_have_count(len(commits), timeout=TIMEOUT)
    assert ids.all_inner_texts() == [c.id for c in commits]
    page.screenshot(path=screenshots / "soak-history.png")
