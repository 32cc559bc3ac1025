"""Branches compared and merged at the project level: edits made on both branches all survive a merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepforge_panel.branches import branch_version, compare, merge, merge_preview
from deepforge_panel.crdt import DocStore, StoreError
from deepforge_panel.diff import MISSING, NodeDiff, ValueChange
from deepforge_panel.project import Project, ReadOnlyError
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project


def test_concurrent_edits_on_two_branches_both_survive_the_merge(tmp_path: Path) -> None:
    main = new_project(tmp_path)
    source, add = main.operations.add(SOURCE), main.operations.add(ADD)
    pid = main.pipelines.create("p")
    main.pipelines.add_node(pid, source, name="source")
    main.pipelines.add_node(pid, add, name="add")
    main.commit("base")
    main.branch("experiment")
    with pytest.raises(StoreError, match="no branch"):
        branch_version(main, "nope")

    assert main.store is not None
    experiment = Project.open(DocStore(main.store.path), "experiment")
    experiment.pipelines.set_attributes(pid, "add", {"amount": 7})
    experiment.pipelines.add_node(pid, add, name="second")
    experiment.operations.set_code(source, SOURCE.replace("value: int = 1", "value: int = 2"))
    experiment.commit("on experiment", author="bob")
    main.pipelines.add_edge(pid, "source", "data", "add", "data")
    main.pipelines.create("only on main")

    diff = compare(main, "main", "experiment")
    assert [p.name for p in diff.pipelines] == ["p"], "heads: the uncommitted pipeline on main is not compared"
    assert diff.pipelines[0].nodes == (
        NodeDiff("add", "Add", "changed", (ValueChange("amount", MISSING, 7),)),
        NodeDiff("second", "Add", "added"),
    )
    assert [o.name for o in diff.operations] == ["Source"]

    preview = merge_preview(main, "experiment")
    assert [(p.name, [n.name for n in p.nodes]) for p in preview.pipelines] == [("p", ["add", "second"])]
    assert {p.name for p in main.pipelines.all()} == {"p", "only on main"}, "a preview changes nothing"

    commit = merge(main, "experiment", author="ada")
    assert main.get_commit(commit).message == "Merge experiment into main"
    merged = main.pipelines.get(pid)
    assert {n.name for n in merged.nodes.values()} == {"source", "add", "second"}
    assert merged.node("add").attributes == {"amount": 7}
    assert len(merged.edges) == 1, "main's edge is kept"
    assert {p.name for p in main.pipelines.all()} == {"p", "only on main"}
    assert "value: int = 2" in main.operations.get(source).code
    assert not merge_preview(main, "experiment"), "merged already: nothing more to bring"
    with pytest.raises(ReadOnlyError):
        merge(main.checkout(commit), "experiment")
