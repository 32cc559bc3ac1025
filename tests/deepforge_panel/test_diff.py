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


def test_the_detailed_diff_names_nodes_attributes_edges_and_code_lines(tmp_path: Path) -> None:
    from deepforge_panel.diff import MISSING, EntryDiff, NodeDiff, OperationDiff, ValueChange, design_diff
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView

    project = new_project(tmp_path)
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    pid = project.pipelines.create("main")
    src = project.pipelines.add_node(pid, source, name="source")
    first = project.pipelines.add_node(pid, add, name="first")
    gone = project.pipelines.add_node(pid, add, name="gone")
    project.pipelines.add_edge(pid, src, "data", first, "data")
    project.pipelines.add_edge(pid, src, "data", gone, "data")
    project.pipelines.create("dropped")
    architectures = ArchitecturesView(project)
    net = architectures.create("net")
    dense = architectures.add_layer(net, "Dense", {"units": 8}, name="dense")
    old = project.checkout(project.commit("old"))
    assert not design_diff(old, old)

    project.pipelines.set_attributes(pid, "first", {"amount": 5})
    project.pipelines.rename_node(pid, "first", "first renamed")
    project.pipelines.remove_node(pid, "gone")
    project.pipelines.add_node(pid, source, name="<b>new")
    project.pipelines.create("fresh")
    project.pipelines.remove(next(p.id for p in project.pipelines.all() if p.name == "dropped"))
    project.operations.set_code(add, ADD.replace("data + self.amount", "data + 2 * self.amount"))
    architectures.set_args(net, dense, {"units": 16})
    project.meta["description"] = "described"

    diff = design_diff(old, project, "c1", "current")
    assert [(p.name, p.status) for p in diff.pipelines] == [
        ("dropped", "removed"),
        ("fresh", "added"),
        ("main", "changed"),
    ]
    main = diff.pipelines[-1]
    assert main.nodes == (
        NodeDiff("<b>new", "Source", "added"),
        NodeDiff(
            "first renamed",
            "Add",
            "changed",
            (ValueChange("name", "first", "first renamed"), ValueChange("amount", MISSING, 5)),
        ),
        NodeDiff("gone", "Add", "removed"),
    )
    assert main.edges_removed == ("source.data → gone.data",) and main.edges_added == ()
    assert diff.operations == (
        OperationDiff(
            "Add",
            "changed",
            (
                "--- c1/Add",
                "+++ current/Add",
                "@@ -4,5 +4,5 @@",
                "         self.amount = amount",
                " ",
                "     def execute(self, data):",
                "-        result = data + self.amount",
                "+        result = data + 2 * self.amount",
                "         return result",
            ),
        ),
    )
    meta_diff, net_diff = diff.entries
    assert net_diff.root == "architectures" and net_diff.name == "net" and net_diff.status == "changed"
    assert [(c.what, c.new) for c in net_diff.changes] == [("layers.dense.args.units", "16")]
    assert meta_diff == EntryDiff("meta", "description", "added", (ValueChange("description", MISSING, "described"),))


def test_an_operations_environment_change_shows_in_the_diff(tmp_path: Path) -> None:
    from deepforge_panel.components.version_view import diff_markdown
    from deepforge_panel.diff import MISSING, OperationDiff, ValueChange, design_diff
    from deepforge_panel.environments import Environment

    project = new_project(tmp_path)
    add = project.operations.add(ADD)
    old = project.checkout(project.commit("old"))
    project.operations.set_environment(add, Environment(("pyjokes", "tabulate"), python="3.11"))
    diff = design_diff(old, project)
    assert diff.operations == (
        OperationDiff(
            "Add",
            "changed",
            changes=(
                ValueChange("environment requirements", MISSING, "pyjokes\ntabulate"),
                ValueChange("environment Python", MISSING, "3.11"),
            ),
        ),
    )
    assert "environment Python: _none_ → `3.11`" in diff_markdown(diff)
    assert "+pyjokes" in diff_markdown(diff)
