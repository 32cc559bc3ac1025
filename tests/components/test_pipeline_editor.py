"""The pipeline editor as a projection of the document, driven by the messages the browser would send."""

from __future__ import annotations

import panel as pn

from deepforge_panel.components.pipeline_editor import BLANK, PipelineEditor, free_spot
from deepforge_panel.components.session import Session


def _editor(session: Session) -> PipelineEditor:
    return PipelineEditor(project=session.project, session=session)


def test_shows_the_pipeline_graph_with_ports(digits_session: Session) -> None:
    editor = _editor(digits_session)
    flow = editor.flow
    assert {n["label"] for n in flow.nodes} == {"load", "split", "train", "score", "confusion"}
    assert len(flow.edges) == 6
    split_type = flow.node_types[next(n["type"] for n in flow.nodes if n["label"] == "split")]
    assert [p["id"] for p in split_type["outputs"]] == ["train", "test"]
    assert pn.panel(editor).get_root() is not None


def test_remote_edits_appear_without_reload(digits_session: Session) -> None:
    editor = _editor(digits_session)
    other = digits_session.project.as_user("peer")
    pipeline = other.pipelines.find("train")
    op = other.operations.find("ScoreClassifier")
    other.pipelines.add_node(pipeline.id, op.id, name="score_again", x=5, y=5)
    assert "score_again" in {n["label"] for n in editor.flow.nodes}
    other.pipelines.move_node(pipeline.id, "load", 300, 40)
    load = next(n for n in editor.flow.nodes if n["label"] == "load")
    assert load["position"] == {"x": 300.0, "y": 40.0}


def test_connecting_ports_from_the_browser_edits_the_document(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    pipeline = project.pipelines.find("train")
    score = pipeline.node("score")
    # remove the existing edge into score.test, then connect it again as a user would
    edge = next(e for e in pipeline.incoming(score.id) if e.dst_port == "test")
    editor.flow._process_msg({"type": "edge_deleted", "edge_id": edge.id})
    assert len(project.pipelines.get(pipeline.id).edges) == 5
    split = pipeline.node("split")
    editor.flow._process_msg(
        {
            "type": "edge_added",
            "edge": {
                "id": "tmp",
                "source": split.id,
                "target": score.id,
                "sourceHandle": "test",
                "targetHandle": "test",
            },
        }
    )
    edges = project.pipelines.get(pipeline.id).edges
    assert len(edges) == 6 and any(e.src == split.id and e.dst_port == "test" for e in edges.values())
    assert {e["id"] for e in editor.flow.edges} == set(edges), "the graph shows the document's edge ids"


def test_a_cycle_is_refused_with_a_visible_message(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    pipeline = project.pipelines.find("train")
    train, split = pipeline.node("train"), pipeline.node("split")
    before = project.doc.get_update()
    assert (
        editor._connection_problem(
            {"source": train.id, "target": split.id, "sourceHandle": "model", "targetHandle": "dataset"}
        )
        == "connecting train -> split would make a cycle: pipelines must be acyclic"
    ), "the editor shows the core's own reason"
    editor.flow._process_msg(
        {
            "type": "edge_added",
            "edge": {
                "id": "bad",
                "source": train.id,
                "target": split.id,
                "sourceHandle": "model",
                "targetHandle": "dataset",
            },
        }
    )
    assert "cycle" in editor.message.object and editor.message.visible
    assert project.doc.get_update() == before
    assert "bad" not in {e["id"] for e in editor.flow.edges}, "the refused edge disappears from the graph"


def test_node_attributes_get_fitting_widgets_both_ways(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    pipeline = project.pipelines.find("train")
    train = pipeline.node("train")
    editor.flow._process_msg({"type": "selection_changed", "nodes": [train.id], "edges": []})
    assert digits_session.node == train.id
    widgets = {w.label: w for w in editor.attributes.objects}
    assert isinstance(widgets["epochs"], pn.widgets.IntInput) and widgets["epochs"].value == 10
    assert isinstance(widgets["learning_rate"], pn.widgets.FloatInput)
    widgets["epochs"].value = 3
    assert project.pipelines.get(pipeline.id).node("train").attributes["epochs"] == 3
    project.as_user("peer").pipelines.set_attributes(pipeline.id, "train", {"epochs": 7})
    assert widgets["epochs"].value == 7
    load = pipeline.node("load")
    editor.flow._process_msg({"type": "selection_changed", "nodes": [load.id], "edges": []})
    choice = next(w for w in editor.attributes.objects if w.label == "name")
    assert isinstance(choice, pn.widgets.Select) and "iris" in choice.options
    assert editor.code.editor.value == project.operations.find("LoadDataset").code


def test_code_edits_change_ports_and_errors_keep_the_last_interface(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    pipeline = project.pipelines.find("train")
    score = pipeline.node("score")
    editor.flow._process_msg({"type": "selection_changed", "nodes": [score.id], "edges": []})
    code = editor.code.editor.value
    editor.code.editor.value = code.replace(
        "def execute(self, model, test):", "def execute(self, model, test, extra=None):"
    )
    node_type = editor.flow.node_types[score.operation]
    assert [p["id"] for p in node_type["inputs"]] == ["model", "test", "extra"]
    editor.code.editor.value = code.replace("def execute(self, model, test):", "def execute(self, model, test")
    assert editor.code.status.visible and "Line 4" in editor.code.status.object
    assert editor.code.editor.annotations[0]["row"] == 3
    assert [p["id"] for p in editor.flow.node_types[score.operation]["inputs"]] == ["model", "test", "extra"]


def test_add_delete_and_blank_operations(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    node_id = editor.add_operation(BLANK)
    pipeline = project.pipelines.find("train")
    assert pipeline.nodes[node_id].name == "newoperation"
    assert project.operations.get(pipeline.nodes[node_id].operation).name == "NewOperation"
    editor.flow._process_msg({"type": "node_deleted", "node_id": node_id})
    assert node_id not in project.pipelines.find("train").nodes


def test_empty_project_has_an_empty_state(hub) -> None:
    project = hub.workspace.create("empty")
    project.store.close()
    session = Session(hub=hub, project=hub.project("empty").as_user("me"))
    editor = _editor(session)
    assert editor.empty.visible and "No pipelines yet" in editor.empty.object
    editor.new_pipeline_name.value = "first"
    editor._create_pipeline()
    assert not editor.empty.visible and session.pipeline is not None


def test_references_are_chosen_from_the_libraries_resources(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    pipeline = project.pipelines.find("train-cnn")
    digits_session.pipeline = pipeline.id
    train = pipeline.node("train")
    editor.flow._process_msg({"type": "selection_changed", "nodes": [train.id], "edges": []})
    (selector,) = editor.references.objects
    assert selector.label == "architecture (reference)"
    from deepforge_panel.libraries import library

    architectures = {a.name: a.id for a in library("keras").resources(project).all()}
    assert selector.value == f"keras:{architectures['digits-cnn']}"
    assert "digits-inception (keras)" in selector.options
    selector.value = f"keras:{architectures['digits-inception']}"
    assert project.pipelines.get(pipeline.id).node("train").references["architecture"] == selector.value
    library("keras").resources(project.as_user("peer")).create("fresh")
    assert "fresh (keras)" in editor.references.objects[0].options, "a new architecture is offered at once"


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_new_nodes_land_where_they_cover_no_other_node(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    for choice in ["ScoreClassifier", "LoadDataset", BLANK, "TrainTestSplit", "ScoreClassifier"]:
        editor.add_operation(choice)
    nodes = project.pipelines.get(digits_session.pipeline).nodes.values()
    boxes = [(n.x, n.y, *editor._node_size(n.operation)) for n in nodes]
    assert len(boxes) == 10
    clashes = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if _overlap(a, b)]
    assert clashes == []


def test_free_spot_fills_gaps_before_growing_the_graph() -> None:
    assert free_spot([], (190, 100)) == (40.0, 40.0)
    row = [(0.0, 0.0, 190.0, 100.0), (420.0, 0.0, 190.0, 100.0)]
    assert free_spot(row, (190, 100)) == (0.0, 120.0)  # nothing fits between them: the next row
    wide = [(0.0, 0.0, 190.0, 100.0), (500.0, 0.0, 190.0, 100.0)]
    assert free_spot(wide, (190, 100)) == (285.0, 0.0)  # the gap between them


def test_an_input_node_picks_one_of_the_projects_artifacts(digits_session: Session) -> None:
    editor = _editor(digits_session)
    project = digits_session.project
    older = project.artifacts.add("digits.raw", "bytes", "file:///a", "0" * 64, 1)
    project.artifacts.add("model", "bytes", "file:///b", "1" * 64, 1)
    node_id = editor.add_operation("Input")
    editor.flow._process_msg({"type": "selection_changed", "nodes": [node_id], "edges": []})
    (pick,) = editor.attributes.objects
    assert isinstance(pick, pn.widgets.Select) and pick.label == "artifact"
    assert list(pick.options) == ["(choose one)", "model", "digits.raw"], "newest first, after the empty choice"
    pick.value = "digits.raw"
    pipeline = project.pipelines.find("train")
    assert pipeline.nodes[node_id].attributes == {"artifact": "digits.raw"}
    project.artifacts.add("late", "bytes", "file:///c", "2" * 64, 1)
    (pick,) = editor.attributes.objects
    assert list(pick.options) == ["late", "model", "digits.raw"], "an artifact made meanwhile is offered at once"
    assert pick.value == "digits.raw" and older in project.artifacts.ids()


def test_nodes_an_edit_would_run_again_show_as_stale_and_run_all_runs_every_job(hub) -> None:
    import asyncio

    from tests.conftest import async_wait_until
    from tests.deepforge_panel.test_orchestrator import _chain

    hub.create("chain")
    project = hub.project("chain").as_user("me")
    pid = _chain(project)
    session = Session(hub=hub, project=project)
    editor = _editor(session)

    def badges() -> dict[str, bool]:
        return {n["label"]: "df-stale" in n["view"].object for n in editor.flow.nodes}

    async def run(cache: bool) -> dict[str, str]:
        before = session.execution
        editor.run(cache=cache)
        await async_wait_until(lambda: session.execution not in (None, before), message="the run started")
        await session.orchestrator().wait(session.execution)
        return {j.name: j.status for j in project.executions.get(session.execution).jobs.values()}

    async def scenario() -> None:
        assert set((await run(cache=True)).values()) == {"succeeded"}
        await async_wait_until(lambda: not any(badges().values()), message="nothing is stale after a run")
        project.pipelines.set_attributes(pid, "c", {"amount": 2})
        stale = {"a": False, "b": False, "c": True, "d": True}
        await async_wait_until(lambda: badges() == stale, message=f"c and d stale: {badges()}")
        assert await run(cache=True) == {"a": "cached", "b": "cached", "c": "succeeded", "d": "succeeded"}
        await async_wait_until(lambda: not any(badges().values()), message="fresh again")
        assert set((await run(cache=False)).values()) == {"succeeded"}

    asyncio.run(scenario())
    assert editor.run_all_button in pn.panel(editor).objects[0].objects


def test_a_node_sets_its_own_limits_over_the_projects(digits_session: Session) -> None:
    from deepforge_panel.adapters.compute import Limits

    project = digits_session.project
    editor = _editor(digits_session)
    pipeline = project.pipelines.find("train")
    project.job_limits = Limits(time_s=600)
    digits_session.param.update(pipeline=pipeline.id, node=pipeline.node("train").id)
    assert editor.limits.visible and editor.time_limit.value is None
    assert editor.time_limit.placeholder == "project's: 600" and editor.memory_limit.placeholder == "no limit"
    editor.memory_limit.value = 2048.0
    node = project.pipelines.get(pipeline.id).node("train")
    assert node.limits == {"memory_mb": 2048.0}
    assert project.pipelines.effective_limits(node) == Limits(time_s=600, memory_mb=2048)
    project.pipelines.set_limits(pipeline.id, "train", Limits(time_s=30))  # elsewhere: the widgets follow
    assert (editor.time_limit.value, editor.memory_limit.value) == (30, None)
