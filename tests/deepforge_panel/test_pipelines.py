from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepforge_panel.pipelines import PipelineError
from tests.deepforge_panel.helpers import ADD, PAIR, SOURCE, new_project


@pytest.fixture
def chain(tmp_path: Path):
    project = new_project(tmp_path)
    ops = {name: project.operations.add(code) for name, code in (("Source", SOURCE), ("Add", ADD), ("Pair", PAIR))}
    pid = project.pipelines.create("chain")
    a = project.pipelines.add_node(pid, ops["Source"], name="a")
    b = project.pipelines.add_node(pid, ops["Add"], name="b")
    c = project.pipelines.add_node(pid, ops["Add"], name="c")
    project.pipelines.add_edge(pid, a, "data", b, "data")
    project.pipelines.add_edge(pid, b, "result", c, "data")
    return project, pid, ops


def test_nodes_edges_and_order(chain) -> None:
    project, pid, _ = chain
    pipeline = project.pipelines.get(pid)
    assert [pipeline.nodes[n].name for n in pipeline.topological_order()] == ["a", "b", "c"]
    assert {pipeline.nodes[n].name for n in pipeline.descendants(pipeline.node("a").id)} == {"b", "c"}


def test_cycle_is_refused_and_nothing_changes(chain) -> None:
    project, pid, ops = chain
    x = project.pipelines.add_node(pid, ops["Add"], name="x")
    y = project.pipelines.add_node(pid, ops["Add"], name="y")
    project.pipelines.add_edge(pid, x, "result", y, "data")
    before = project.doc.get_update()
    with pytest.raises(PipelineError, match="would make a cycle"):
        project.pipelines.add_edge(pid, y, "result", x, "data")
    with pytest.raises(PipelineError, match="already connected"):
        project.pipelines.add_edge(pid, "a", "data", "b", "data")
    assert project.doc.get_update() == before


def test_self_loop_and_unknown_ports_are_refused(chain) -> None:
    project, pid, ops = chain
    d = project.pipelines.add_node(pid, ops["Add"], name="d")
    before = project.doc.get_update()
    with pytest.raises(PipelineError, match="cycle"):
        project.pipelines.add_edge(pid, d, "result", d, "data")
    with pytest.raises(PipelineError, match=r"has no output 'nope' \(outputs: \['result'\]\)"):
        project.pipelines.add_edge(pid, "c", "nope", d, "data")
    with pytest.raises(PipelineError, match="has no input 'x'"):
        project.pipelines.add_edge(pid, "c", "result", d, "x")
    with pytest.raises(PipelineError, match="no node 'zz'"):
        project.pipelines.add_edge(pid, "zz", "result", d, "data")
    assert project.doc.get_update() == before


def test_mismatched_port_types_are_refused(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    make = project.operations.add("class Make:\n    def execute(self) -> Table:\n        return table\n")
    use = project.operations.add("class Use:\n    def execute(self, model: Model):\n        pass\n")
    pid = project.pipelines.create("p")
    a = project.pipelines.add_node(pid, make)
    b = project.pipelines.add_node(pid, use)
    with pytest.raises(PipelineError, match=r"\(Table\) to use.model \(Model\): port types differ"):
        project.pipelines.add_edge(pid, a, "table", b, "model")


def test_unconnected_required_input_stops_a_run_with_every_problem(chain) -> None:
    project, pid, ops = chain
    project.pipelines.add_node(pid, ops["Pair"], name="p")
    project.pipelines.add_edge(pid, "c", "result", "p", "left")
    with pytest.raises(PipelineError) as info:
        project.pipelines.check_runnable(pid, {"b": {"amount": "x"}, "ghost": {"a": 1}})
    text = str(info.value)
    assert "p: required input 'right' is not connected" in text
    assert "b.amount = 'x'" in text
    assert "--set names no node 'ghost'" in text


def test_attributes_are_typed_and_validated(chain) -> None:
    project, pid, _ = chain
    project.pipelines.set_attributes(pid, "b", {"amount": "5"})
    node = project.pipelines.get(pid).node("b")
    assert node.attributes == {"amount": 5} and isinstance(node.attributes["amount"], int)
    assert project.pipelines.effective_attributes(project.pipelines.get(pid).node("c")) == {"amount": 1}
    with pytest.raises(PipelineError, match="whole number"):
        project.pipelines.set_attributes(pid, "b", {"amount": 2.5})
    with pytest.raises(PipelineError, match="no attribute 'size'"):
        project.pipelines.set_attributes(pid, "b", {"size": 2})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "b.amount = True: must be a whole number, not a boolean"),
        (2**53, "b.amount = 9007199254740992: must be a whole number between -9007199254740991 and 9007199254740991"),
        (-(10**23), "must be a whole number between"),
        ("99999999999999999999999", "must be a whole number between"),
        (float("inf"), "b.amount = inf: must be a whole number"),
    ],
)
def test_integer_attributes_refuse_what_the_document_cannot_hold(chain, value, message) -> None:
    project, pid, _ = chain
    with pytest.raises(PipelineError, match=re.escape(message)):
        project.pipelines.set_attributes(pid, "b", {"amount": value})
    project.pipelines.set_attributes(pid, "b", {"amount": 2**53 - 1})
    assert project.pipelines.get(pid).node("b").attributes == {"amount": 2**53 - 1}


def test_code_edit_that_removes_a_port_is_caught_before_running(chain) -> None:
    project, pid, ops = chain
    project.operations.set_code(ops["Add"], ADD.replace("(self, data)", "(self, values)").replace("data +", "values +"))
    with pytest.raises(PipelineError, match="no longer an input"):
        project.pipelines.check_runnable(pid)


def test_remove_node_removes_its_edges_and_positions_persist(chain) -> None:
    project, pid, _ = chain
    project.pipelines.move_node(pid, "a", 10, 20)
    project.pipelines.remove_node(pid, "b")
    pipeline = project.pipelines.get(pid)
    assert {n.name for n in pipeline.nodes.values()} == {"a", "c"}
    assert pipeline.edges == {}
    assert (pipeline.node("a").x, pipeline.node("a").y) == (10.0, 20.0)


def test_checkout_is_read_only(chain) -> None:
    project, pid, _ = chain
    commit = project.commit("v1", author="t")
    old = project.checkout(commit)
    assert old.pipelines.get(pid).name == "chain"
    from deepforge_panel.project import ReadOnlyError

    with pytest.raises(ReadOnlyError):
        old.pipelines.create("nope")
