"""A second domain library plugs in without touching the core: its root, its tab, its CLI command.

The library is ``notes_plugin.NotesLibrary``: registered in code here, or shipped in a throwaway
distribution whose entry point a served workbench and a CLI process find on their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import panel as pn
import pytest

from deepforge_panel.apps.workbench import project_page
from deepforge_panel.cli import main
from deepforge_panel.crdt import ROOTS, unregister_root
from deepforge_panel.hub import ProjectHub
from deepforge_panel.libraries import library, register_library, unregister_library
from deepforge_panel.references import check_reference, make_reference
from deepforge_panel.workspace import Workspace
from tests.conftest import wait_until
from tests.libraries.notes_plugin import NotesLibrary

CORE_TABS = ["Pipelines", "Notebooks", "Executions", "Artifacts", "History"]
"""The core's tabs; library tabs come after Pipelines."""


@pytest.fixture
def notes() -> Iterator[NotesLibrary]:
    """The notes library, registered for one test and forgotten afterwards (root included)."""
    register_library("notes", NotesLibrary)
    yield library("notes")  # type: ignore[misc]
    unregister_library("notes")
    unregister_root("notes")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "home", examples=False)


def page_tabs(hub: ProjectHub, name: str) -> pn.Tabs:
    return next(o for o in project_page(hub, name).main[0] if isinstance(o, pn.Tabs))


def titles(tabs: pn.Tabs) -> list[str]:
    """The titles the browser gets, read from the rendered Bokeh model."""
    return [panel.title for panel in tabs.get_root().tabs]


@pytest.mark.parametrize(("name", "root"), [("keras", "architectures"), ("notes", "notes")])
def test_a_library_root_is_a_design_root_undoable_and_restored(
    workspace: Workspace, notes: NotesLibrary, name: str, root: str
) -> None:
    project = workspace.create("lab")
    assert root in ROOTS and root in project.doc
    resources = library(name).resources

    mine = project.as_user("me")
    undo = mine.undo_manager()
    resources(mine).create("undone")
    assert [r.name for r in resources(project).all()] == ["undone"]
    undo.undo()
    assert resources(project).all() == []

    empty = project.commit("nothing yet")
    kept = resources(project).create("kept")
    one = project.commit("one resource")
    project.restore(empty)
    assert resources(project).all() == []
    project.close()

    reopened = workspace.open("lab")
    assert resources(reopened).all() == []
    reopened.restore(one)
    assert [r.id for r in resources(reopened).all()] == [kept]
    assert check_reference(reopened, make_reference(name, kept)) == "kept"
    reopened.close()


def test_the_page_has_one_tab_per_library_editor(workspace: Workspace) -> None:
    hub = ProjectHub(workspace)
    hub.create("lab")
    assert titles(page_tabs(hub, "lab")) == ["Pipelines", "Architectures", *CORE_TABS[1:]]

    register_library("notes", NotesLibrary)
    try:
        tabs = page_tabs(hub, "lab")
        assert titles(tabs) == ["Pipelines", "Architectures", "Notes", *CORE_TABS[1:]]
        session = library("notes").editors[-1].session  # type: ignore[attr-defined]
        session.tab = "Notes"
        assert tabs.active == 2
        tabs.active = 1
        assert session.tab == "Architectures"
        session.tab = "no such tab"
        assert tabs.active == 1
    finally:
        unregister_library("notes")
        unregister_root("notes")


def test_the_cli_runs_its_command(
    workspace: Workspace, notes: NotesLibrary, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace.create("lab").close()
    home = str(workspace.path)
    assert main(["notes", "add", "lab", "first", "hello", "--home", home]) == 0
    assert main(["notes", "list", "lab", "--home", home]) == 0
    out = capsys.readouterr().out
    assert out.startswith("added note nt") and out.endswith("first: hello\n")
    assert main(["notes", "list", "nowhere", "--home", home]) == 2
    assert "nowhere" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def distribution(tmp_path: Path) -> Path:
    """A folder holding the notes library as an installed distribution with a ``deepforge_panel.libraries`` entry point."""
    site = tmp_path / "site"
    module = f"df_notes_{uuid.uuid4().hex[:8]}"
    site.mkdir()
    (site / f"{module}.py").write_text((Path(__file__).parent / "notes_plugin.py").read_text())
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[deepforge_panel.libraries]\nnotes = {module}:NotesLibrary\n")
    return site


def test_an_installed_distribution_adds_its_tab_to_the_served_page_and_its_command(
    distribution: Path, tmp_path: Path
) -> None:
    """As a third party ships it: nothing registered in code, the entry point alone."""
    home = tmp_path / "home"
    Workspace(home, examples=False).create("lab").close()
    env = {**os.environ, "PYTHONPATH": str(distribution), "PYTHONWARNINGS": "ignore"}
    cli = [sys.executable, "-m", "deepforge_panel.cli"]
    added = subprocess.run(
        [*cli, "notes", "add", "lab", "first", "hi", "--home", str(home)], env=env, capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added note nt")

    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*cli, "serve", "--home", str(home), "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: "is running at" in log.read_text() or server.poll() is not None, timeout=60, message="server start"
        )
        assert server.poll() is None, log.read_text()
        token = (home / "token").read_text(encoding="utf-8").strip()
        assert served_tab_titles(f"http://127.0.0.1:{port}/", "lab", token) == [
            "Pipelines",
            "Architectures",
            "Notes",
            *CORE_TABS[1:],
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)


def served_tab_titles(url: str, project: str, token: str) -> list[str]:
    """The workbench tabs of a real session of the served page, pulled over its websocket by Bokeh's client."""
    import importlib
    import pkgutil

    import panel.models
    from bokeh.client import pull_session
    from bokeh.models import Tabs

    for info in pkgutil.iter_modules(panel.models.__path__):  # the client must know every model the page uses
        importlib.import_module(f"panel.models.{info.name}")
    with pull_session(url=url, arguments={"project": project, "token": token}) as session:
        (tabs,) = session.document.select({"type": Tabs})
        return [panel.title for panel in tabs.tabs]
