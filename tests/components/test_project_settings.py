"""Project settings over a real project: the job console's log level, a projection of the document."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepforge_panel.components.project_settings import ProjectSettings
from deepforge_panel.hub import ProjectHub
from deepforge_panel.project import Project
from deepforge_panel.workspace import Workspace


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ProjectHub]:
    workspace = Workspace(tmp_path / "home", examples=False)
    workspace.create("demo").store.close()
    running = ProjectHub(workspace)
    yield running
    asyncio.run(running.close())


def test_the_select_shows_the_documents_level_and_writes_it(hub: ProjectHub) -> None:
    project = hub.project("demo").as_user("tab-1")
    settings = ProjectSettings(project=project)
    assert settings.job_log_level.value == "quiet"
    assert list(settings.job_log_level.options.values()) == ["quiet", "verbose"]

    settings.job_log_level.value = "verbose"
    assert project.job_log_level == "verbose"
    assert project.meta.get("job_log_level") == "verbose"


def test_a_change_elsewhere_updates_the_select(hub: ProjectHub) -> None:
    settings = ProjectSettings(project=hub.project("demo").as_user("tab-1"))
    other = hub.project("demo").as_user("tab-2")  # another tab on the same live document
    other.job_log_level = "verbose"
    assert settings.job_log_level.value == "verbose"
    other.job_log_level = "quiet"
    assert settings.job_log_level.value == "quiet"
    settings.dispose()
    other.job_log_level = "verbose"
    assert settings.job_log_level.value == "quiet", "a disposed view no longer follows the document"


def test_the_setting_is_kept_with_the_project(hub: ProjectHub, tmp_path: Path) -> None:
    settings = ProjectSettings(project=hub.project("demo").as_user("tab-1"))
    settings.job_log_level.value = "verbose"
    asyncio.run(hub.close())
    reopened = Workspace(tmp_path / "home", examples=False).open("demo")
    assert reopened.job_log_level == "verbose"
    reopened.store.close()


def test_an_old_version_shows_its_level_read_only(hub: ProjectHub) -> None:
    project = hub.project("demo").as_user("tab-1")
    project.job_log_level = "verbose"
    commit = project.commit("verbose jobs")
    project.job_log_level = "quiet"
    version: Project = project.checkout(commit)
    settings = ProjectSettings(project=version)
    assert settings.job_log_level.value == "verbose"
    assert settings.job_log_level.disabled


def test_job_limits_are_a_projection_of_the_document(hub: ProjectHub) -> None:
    from deepforge_panel.adapters.compute import Limits

    settings = ProjectSettings(project=hub.project("demo").as_user("tab-1"))
    assert (settings.time_limit.value, settings.memory_limit.value) == (None, None)
    settings.time_limit.value = 60.0
    settings.memory_limit.value = 512.0
    assert hub.project("demo").job_limits == Limits(time_s=60, memory_mb=512)
    other = hub.project("demo").as_user("tab-2")
    other.job_limits = Limits(time_s=5)
    assert (settings.time_limit.value, settings.memory_limit.value) == (5, None)
    settings.memory_limit.value = -3.0  # refused, saying why; the document keeps its value
    assert other.job_limits == Limits(time_s=5) and settings.memory_limit.value is None
