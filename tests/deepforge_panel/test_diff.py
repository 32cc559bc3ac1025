"""The design changes between two versions, counted per design root; records never count."""

from __future__ import annotations

from pathlib import Path

from deepforge_panel.diff import RootChanges, describe_changes, design_changes
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project


def test_counts_what_making_the_live_design_equal_to_an_old_version_changes(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    first, second = project.pipelines.create("first"), project.pipelines.create("second")
    project.pipelines.create("third")
    old = project.commit("old")
    assert design_changes(project, project.checkout(old)) == {}

    project.pipelines.add_node(first, source, name="source")
    project.pipelines.rename(second, "second renamed")
    project.pipelines.create("fourth")
    project.operations.remove(add)
    project.artifacts.add("result", "int", "file:///tmp/result", "h" * 8, 8)
    project.meta["description"] = "now described"

    changes = design_changes(project, project.checkout(old))
    assert changes == {
        "meta": RootChanges(removed=1),
        "operations": RootChanges(added=1),
        "pipelines": RootChanges(changed=2, removed=1),
    }
    assert describe_changes(changes) == (
        "1 project detail removed, 1 operation added, 2 pipelines changed, 1 pipeline removed"
    )
    assert describe_changes({}) == "nothing"
    assert describe_changes({"architectures": RootChanges(added=3, changed=1)}) == (
        "1 architecture changed, 3 architectures added"
    )
