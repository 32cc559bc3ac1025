"""The start page over a real home folder."""

from __future__ import annotations

import panel as pn

from deepforge_panel.components.project_list import ProjectList
from deepforge_panel.hub import ProjectHub


def names(page: ProjectList) -> list[str]:
    return [entry.name for entry in page.hub.workspace.projects()]


def test_create_rename_fork_and_delete_with_confirmation(hub: ProjectHub) -> None:
    page = ProjectList(hub=hub)
    assert len(page.list.objects) == 1 and "digits" in page.list.objects[0].objects[0].object
    page.new_name.value = "mine"
    page.create_button.clicks += 1
    assert names(page) == ["digits", "mine"]

    page._act(page.rename, "mine", "yours")
    assert names(page) == ["digits", "yours"]
    page._act(page.fork, "digits", "digits-copy")
    assert names(page) == ["digits", "digits-copy", "yours"]
    assert [p.name for p in hub.project("digits-copy").pipelines.all()] == ["train", "train-cnn", "train-inception"]

    page._act(page.delete, "yours")
    assert "yours" in names(page), "the first click only asks"
    delete_button = page.list.objects[-1].objects[-1]
    assert delete_button.label == "Confirm delete"
    page._act(page.delete, "yours")
    assert names(page) == ["digits", "digits-copy"]
    assert pn.panel(page).get_root() is not None


def test_bad_names_are_explained(hub: ProjectHub) -> None:
    page = ProjectList(hub=hub)
    page._act(page.create, "digits")
    assert page.message.visible and "already exists" in page.message.object
    page._act(page.create, "")
    assert "give the new project a name" in page.message.object


LONG_NAME = "Convolutional_network_experiments_on_the_digits_dataset-v2.final"
"""As long as a name may be (64 characters), with no space to wrap at."""


def test_a_long_name_is_cut_with_an_ellipsis_and_kept_whole_in_its_title(hub: ProjectHub) -> None:
    hub.create(LONG_NAME)
    page = ProjectList(hub=hub)
    (link,) = (row.objects[0] for row in page.list.objects if LONG_NAME in row.objects[0].object)
    assert f"title='{LONG_NAME}'>{LONG_NAME}</a>" in link.object
    assert any("text-overflow: ellipsis" in sheet for sheet in link.stylesheets)
