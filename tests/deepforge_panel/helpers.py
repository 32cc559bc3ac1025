"""Small operations and projects shared by the core tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepforge_panel.crdt import Home
from deepforge_panel.project import Project


def cli(
    *args: str, home: Path, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``deepforge-panel ARGS --home HOME`` in a subprocess (``env`` added to this one's), its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "deepforge_panel.cli", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
    )


SOURCE = """
class Source:
    def __init__(self, value: int = 1):
        self.value = value

    def execute(self):
        data = self.value
        return data
"""

ADD = """
class Add:
    def __init__(self, amount: int = 1):
        self.amount = amount

    def execute(self, data):
        result = data + self.amount
        return result
"""

PAIR = """
class Pair:
    def execute(self, left, right):
        total = left + right
        return total
"""


def new_project(tmp_path: Path, name: str = "test") -> Project:
    return Project.open(Home(tmp_path / "home").create(name))


def start_sleepy_run(tmp_path: Path, **popen: Any) -> tuple[Path, subprocess.Popen[str], int]:
    """A CLI ``run`` of a one-job pipeline whose job sleeps: (home, the CLI process, the job's pid once it runs)."""
    from deepforge_panel.workspace import Workspace
    from tests.conftest import wait_until

    home = tmp_path / "home"
    project = Workspace(home, examples=False).create("sleepy")
    pidfile = tmp_path / "job.pid"
    op = project.operations.add(
        "import os, time\n"
        "class Sleep:\n"
        f"    def execute(self):\n        open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n        time.sleep(600)\n"
    )
    project.pipelines.add_node(project.pipelines.create("p"), op, name="sleep")
    project.close()
    runner = subprocess.Popen(
        [sys.executable, "-m", "deepforge_panel.cli", "run", "sleepy", "p", "--home", str(home)],
        text=True,
        **popen,
    )
    wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=30, message="job started")
    return home, runner, int(pidfile.read_text())


def run_make_then_measure(project: Project, tmp_path: Path, make: str, measure: str) -> tuple[Any, Any]:
    """Run pipeline ``points`` (a node ``make`` of operation code ``make`` whose output ``point`` feeds input
    ``point`` of a node ``measure``) on the local adapter and file storage: (the execution, the storage)."""
    import asyncio

    from deepforge_panel.adapters.compute import compute
    from deepforge_panel.adapters.storage import storage
    from deepforge_panel.orchestrator import Orchestrator

    pid = project.pipelines.create("points")
    made = project.pipelines.add_node(pid, project.operations.add(make), name="make")
    measured = project.pipelines.add_node(pid, project.operations.add(measure), name="measure")
    project.pipelines.add_edge(pid, made, "point", measured, "point")
    store = storage((tmp_path / "artifacts").as_uri())
    execution = asyncio.run(Orchestrator(project, compute("local"), store, tmp_path / "jobs").run("points"))
    return execution, store
