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


def test_a_deepforge_export_imports_from_the_start_page_with_its_report(hub: ProjectHub, tmp_path) -> None:
    from tests.deepforge_panel.test_deepforge_import import build_export
    from tests.deepforge_panel.webgmex_files import DeepForgeExport

    page = ProjectList(hub=hub)
    page.import_button.clicks += 1
    assert page.message.visible and "Choose a .webgmex file" in page.message.object

    page.import_file.param.update(value=b"PK\x03\x04 truncated", filename="broken.webgmex")
    page.import_button.clicks += 1
    assert "not a .webgmex file" in page.message.object and names(page) == ["digits"]

    data = build_export(tmp_path / "shapes.webgmex").read_bytes()
    page.import_file.param.update(value=data, filename="../../shapes.webgmex")
    page.import_name.value = "my shapes"
    page.import_button.clicks += 1
    assert not page.message.visible, page.message.object
    assert names(page) == ["digits", "my shapes"]
    report = page.import_report.object
    assert page.import_report.visible and "imported shapes.webgmex as project &#x27;my shapes&#x27;" in report
    assert "kept in DeepForge&#x27;s &#x27;s3&#x27; storage" in report
    assert hub.project("my shapes").pipelines.find("points") is not None

    hostile = DeepForgeExport("guest+hostile")
    hostile.node(hostile.artifacts, "<img src=x onerror=alert(1)>", hostile.data, atr={"data": '{"backend": "s3"}'})
    page.import_file.param.update(value=hostile.write(tmp_path / "h.webgmex").read_bytes(), filename="h.webgmex")
    page.import_button.clicks += 1
    assert "&lt;img src=x" in page.import_report.object and "<img" not in page.import_report.object
