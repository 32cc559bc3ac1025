"""Component tests: real projects in a temp home, components driven without a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepforge_panel.components.session import Session
from deepforge_panel.hub import ProjectHub
from deepforge_panel.workspace import Workspace


@pytest.fixture
def hub(tmp_path: Path) -> ProjectHub:
    return ProjectHub(Workspace(tmp_path / "home"))


@pytest.fixture
def digits_session(hub: ProjectHub) -> Session:
    project = hub.project("digits").as_user("me")
    return Session(hub=hub, project=project)
