"""The history view over a real project store: commits, previews, restore, branches, undo/redo."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import panel as pn
import pytest

from deepforge_panel.components.history import HistoryView
from deepforge_panel.components.session import Session
from deepforge_panel.errors import NotFound
from deepforge_panel.hub import ProjectHub
from deepforge_panel.project import Project
from deepforge_panel.workspace import Workspace
from tests.conftest import async_wait_until
from tests.deepforge_panel.helpers import ADD, SOURCE

# Bokeh 3.9 turns every pandas frame into a Tabulator source with reset_index(inplace=True),
# which pandas 3.1 deprecates; the warning is about bokeh's internals, not this code.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning:bokeh")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A tab's session on an empty project "demo" of a hub over a fresh home."""
    workspace = Workspace(tmp_path / "home", examples=False)
    workspace.create("demo").store.close()
    hub = ProjectHub(workspace)
    yield Session(hub=hub, project=hub.project("demo").as_user("tab-1"), author="ada")
    asyncio.run(hub.close())


def _pipeline_with(project: Project, name: str, *ops: str) -> str:
    """A pipeline of one node per operation name, chained by their first ports where they fit."""
    pid = project.pipelines.create(name)
    for i, op_name in enumerate(ops):
        op = next((o for o in project.operations.all() if o.name == op_name), None)
        op_id = op.id if op else project.operations.add({"Source": SOURCE, "Add": ADD}[op_name])
        project.pipelines.add_node(pid, op_id, name=f"{op_name.lower()}{i}")
    return pid


def _commit_with(view: HistoryView, message: str) -> str:
    view.commit_message.value = message
    view.commit_button.clicks += 1
    return view.project.log()[0].id


def test_lists_commits_newest_first_and_follows_new_ones(session: Session) -> None:
    view = HistoryView(session=session)
    assert view.empty.visible and "`main`" in view.branch_info.object
    pn.panel(view).get_root()

    first = _commit_with(view, "first")
    second = _commit_with(view, "second")
    assert not view.empty.visible and view.commit_message.value == ""
    assert list(view.table.value["message"]) == ["second", "first"]
    assert list(view.table.value["id"]) == [second, first]
    assert list(view.table.value["author"]) == ["ada", "ada"]

    other = session.project.as_user("bob-tab")
    other.commit("by bob", author="bob")
    other.pipelines.create("touch")  # any document change re-reads the history
    assert list(view.table.value["message"]) == ["by bob", "second", "first"]
    assert view.table.value.iloc[0]["author"] == "bob"


def test_commit_needs_a_message(session: Session) -> None:
    view = HistoryView(session=session)
    view.commit_message.value = "   "
    view.commit_button.clicks += 1
    assert session.project.log() == []
    assert view.message.visible and view.message.alert_type == "danger"
    assert "needs a message" in view.message.object and session.message == view.message.object


def test_preview_shows_the_old_version_read_only(session: Session) -> None:
    project = session.project
    _pipeline_with(project, "alpha", "Source")
    view = HistoryView(session=session)
    old = _commit_with(view, "only alpha")
    beta = _pipeline_with(project, "beta", "Source", "Add")
    _commit_with(view, "alpha and beta")

    view.table.selection = [list(view.table.value["id"]).index(old)]
    assert view.commit == old and view.detail.visible
    assert view.preview.value.to_dict("records") == [
        {"pipeline": "alpha", "nodes": 1, "edges": 0, "operations": "Source"}
    ]
    assert "only alpha" in view.preview_header.object and "read-only" in view.preview_header.object
    assert {p.name for p in project.pipelines.all()} == {"alpha", "beta"}, "previewing changes nothing"

    view.select(project.log()[0].id)
    rows = {row["pipeline"]: row for row in view.preview.value.to_dict("records")}
    assert rows["beta"] == {"pipeline": "beta", "nodes": 2, "edges": 0, "operations": "Add, Source"}
    assert project.pipelines.get(beta).name == "beta"
    with pytest.raises(NotFound, match="no commit"):
        view.select("c-not-here")
    assert pn.panel(view).get_root() is not None


def test_restore_asks_for_confirmation_then_brings_back_the_old_state(session: Session) -> None:
    project = session.project
    _pipeline_with(project, "alpha", "Source")
    view = HistoryView(session=session)
    old = _commit_with(view, "only alpha")
    _pipeline_with(project, "beta", "Source")
    _commit_with(view, "alpha and beta")
    view.select(old)

    view.restore_button.clicks += 1
    assert view.confirming and view.confirm_button.visible and not view.restore_button.visible
    assert {p.name for p in project.pipelines.all()} == {"alpha", "beta"}, "nothing happens before confirming"
    view.cancel_button.clicks += 1
    assert not view.confirming and not view.confirm_button.visible and view.restore_button.visible
    assert view.confirm_restore() is None, "confirming needs the first step"
    assert len(project.log()) == 2

    view.restore_button.clicks += 1
    view.confirm_button.clicks += 1
    assert {p.name for p in project.pipelines.all()} == {"alpha"}
    head = project.log()[0]
    assert head.message == f"Restore {old}" and head.author == "ada"
    assert view.table.value.iloc[0]["message"] == f"Restore {old}"
    assert view.commit is None and not view.detail.visible


def test_branches_are_created_at_the_selected_commit_and_names_are_unique(session: Session) -> None:
    project = session.project
    view = HistoryView(session=session)
    view.branch_name.value = "early"
    view.branch_button.clicks += 1
    assert "commit before branching" in view.message.object, "no commit yet: nothing to branch from"

    first = _commit_with(view, "first")
    _commit_with(view, "second")
    view.select(first)
    view.branch_name.value = "experiment"
    view.branch_button.clicks += 1
    assert project.store.branches() == ["main", "experiment"]
    assert [c.id for c in project.store.log("experiment")] == [first]
    assert view.branch_name.value == "" and "`experiment`" in view.branch_info.object

    view.branch_name.value = "experiment"
    view.branch_button.clicks += 1
    assert view.message.alert_type == "danger" and "already exists" in view.message.object
    assert project.store.branches() == ["main", "experiment"]

    view.branch_name.value = " "
    assert view.create_branch() is False and "name the new branch" in view.message.object


def test_undo_and_redo_touch_only_this_sessions_edits(session: Session) -> None:
    """Run on an event loop, as in the server: refreshes come one tick after each edit."""

    async def scenario() -> None:
        mine = session.project
        theirs = mine.as_user("bob-tab")
        view = HistoryView(session=session)
        assert view.undo_button.disabled and view.redo_button.disabled

        mine.pipelines.create("mine")
        theirs.pipelines.create("theirs")
        await async_wait_until(lambda: not view.undo_button.disabled, message="undo enabled after my edit")

        view.undo_button.clicks += 1
        assert {p.name for p in mine.pipelines.all()} == {"theirs"}, "my edit undone, bob's kept"
        assert view.undo_button.disabled and not view.redo_button.disabled

        view.redo_button.clicks += 1
        assert {p.name for p in mine.pipelines.all()} == {"mine", "theirs"}
        assert not view.undo_button.disabled and view.redo_button.disabled

        theirs.pipelines.create("later")
        assert not view.undo_button.disabled
        view.undo_button.clicks += 1
        assert {p.name for p in mine.pipelines.all()} == {"theirs", "later"}
        view.dispose()

    asyncio.run(scenario())


def test_undo_is_disabled_without_a_per_user_handle(session: Session) -> None:
    shared = session.hub.project("demo")
    view = HistoryView(project=shared, session=session)
    shared.pipelines.create("x")
    assert view.undo_button.disabled and view.undo() is False
    assert {p.name for p in shared.pipelines.all()} == {"x"}


def test_restore_confirmation_counts_the_design_changes_and_keeps_the_records(session: Session) -> None:
    project = session.project
    alpha = _pipeline_with(project, "alpha", "Source")
    view = HistoryView(session=session)
    old = _commit_with(view, "only alpha")
    _pipeline_with(project, "beta", "Source")
    _pipeline_with(project, "gamma", "Source")
    project.pipelines.rename(alpha, "alpha renamed")
    project.operations.add(ADD)
    pipeline = project.pipelines.get(alpha)
    execution_id, _jobs = project.executions.create(pipeline, old, {nid: {} for nid in pipeline.nodes}, author="ada")
    artifact_id = project.artifacts.add("result", "int", "file:///tmp/result", "h" * 8, 8)
    _commit_with(view, "more")
    view.select(old)
    assert not view.restore_effect.visible

    view.restore_button.clicks += 1
    assert view.restore_effect.visible
    assert view.restore_effect.object == (
        f"Restore makes the design equal to version `{old}`: 1 operation removed, 1 pipeline changed, "
        "2 pipelines removed. Executions, artifacts, notebook outputs and results are kept as they are."
    )
    project.pipelines.create("delta")  # the live design moves while confirming: the count follows
    assert "3 pipelines removed" in view.restore_effect.object

    view.confirm_button.clicks += 1
    assert not view.restore_effect.visible
    assert {p.name for p in project.pipelines.all()} == {"alpha"}
    assert project.executions.ids() == [execution_id] and project.artifacts.ids() == [artifact_id]

    view.select(project.log()[0].id)
    view.restore_button.clicks += 1
    assert view.restore_effect.object.startswith(f"The design of version `{project.log()[0].id}` is the current one")


def test_an_old_version_shows_its_graph_code_and_architectures_read_only_with_a_diff_to_now(session: Session) -> None:
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView

    project = session.project
    pid = _pipeline_with(project, "alpha", "Source", "Add")
    source = next(o.id for o in project.operations.all() if o.name == "Source")
    architectures = ArchitecturesView(project)
    net = architectures.create("net")
    architectures.add_layer(net, "Dense", {"units": 8}, name="dense")
    project.pipelines.add_edge(pid, "source0", "data", "add1", "data")
    view = HistoryView(session=session)
    old = _commit_with(view, "before")
    project.pipelines.set_attributes(pid, "add1", {"amount": 3})
    project.pipelines.remove_node(pid, "source0")
    project.operations.set_code(source, SOURCE.replace("data = self.value", "data = self.value  # <script>"))
    project.pipelines.add_node(pid, source, name="*late*")

    view.select(old)
    shown = view.version_view
    assert shown.pipeline_select.options == {"alpha": pid} and shown.pipeline_select.value == pid
    assert sorted(n["label"] for n in shown.flow.nodes) == ["add1", "source0"], "the graph as it was"
    assert not shown.flow.editable
    assert shown.nodes.object == "- **add1** (Add)\n- **source0** (Source)"
    assert shown.operation_select.options.keys() == {"Add", "Source"}
    shown.operation_select.value = source
    assert "data = self.value\n" in shown.code.object and "<script>" not in shown.code.object
    assert "**net**: 1 layers: dense (Dense)" in shown.architectures.object

    diff = view.diff.object
    assert "**Pipeline `alpha`** changed" in diff
    assert "- added node **\\*late\\*** (Source)" in diff, "user text is escaped"
    assert "- removed node **source0** (Source)" in diff
    assert "- changed node **add1** (Add): amount: _none_ → `3`" in diff
    assert "- removed edge source0.data → add1.data" in diff
    assert "**Operation `Source`** changed" in diff and "```diff\n--- " in diff
    assert "+        data = self.value  # <script>" in diff, "code stays inside the fenced diff block"

    project.pipelines.set_attributes(pid, "add1", {"amount": 4})  # the live design moves: the diff follows
    view.refresh()
    assert "amount: _none_ → `4`" in view.diff.object
    view.select(_commit_with(view, "after"))
    assert view.diff.object == "_The current design is the same as this version's._"
    view.select(None)
    assert view.diff.object == "" and shown.flow.nodes == []
    assert pn.panel(view).get_root() is not None


def test_branches_are_compared_and_merged_after_seeing_what_the_merge_changes(session: Session) -> None:
    from deepforge_panel.crdt import DocStore

    project = session.project
    pid = _pipeline_with(project, "alpha", "Source")
    view = HistoryView(session=session)
    panel = view.branches
    assert not panel._layout.visible, "no other branch yet"
    _commit_with(view, "base")
    view.branch_name.value = "exp"
    view.branch_button.clicks += 1
    assert panel._layout.visible and panel.select.options == ["exp"] and panel.other == "exp"
    assert "branch=exp" in panel.open_link.object and "Open exp" in panel.open_link.object

    assert project.store is not None
    exp = Project.open(DocStore(project.store.path), "exp")
    exp.pipelines.add_node(pid, next(o.id for o in exp.operations.all()), name="on exp")
    exp.commit("on exp", author="bob")
    project.pipelines.create("on main")

    panel.compare_button.clicks += 1
    assert panel.result.visible and "From `main` to `exp`" in panel.result.object
    assert "- added node **on exp** (Source)" in panel.result.object
    assert "on main" not in panel.result.object, "heads are compared; main's edit is not committed"

    panel.merge_button.clicks += 1
    assert panel.merging and panel.confirm_button.visible and not panel.merge_button.visible
    assert "Merging `exp` into `main` changes" in panel.result.object
    assert "- added node **on exp** (Source)" in panel.result.object
    assert [n.name for n in project.pipelines.get(pid).nodes.values()] == ["source0"], "nothing before confirming"
    panel.cancel_button.clicks += 1
    assert not panel.merging and panel.merge_button.visible
    assert panel.confirm_merge() is None

    panel.merge_button.clicks += 1
    panel.confirm_button.clicks += 1
    assert {n.name for n in project.pipelines.get(pid).nodes.values()} == {"source0", "on exp"}
    assert {p.name for p in project.pipelines.all()} == {"alpha", "on main"}, "both branches' edits survive"
    assert view.table.value.iloc[0]["message"] == "Merge exp into main"
    assert project.log()[0].author == "ada"
    assert view.message.alert_type == "success" and "Merged exp into main" in view.message.object
    panel.merge_button.clicks += 1
    assert "nothing in the design" in panel.result.object
    assert pn.panel(view).get_root() is not None


def test_a_head_a_peer_made_concurrently_is_shown_as_divergent_and_can_be_restored(
    session: Session, tmp_path: Path
) -> None:
    """Two workbenches committed on main at once: both heads are listed, marked, and either restores."""
    from deepforge_panel.crdt import DocStore

    project = session.project
    _pipeline_with(project, "shared", "Source")
    base = project.commit("before parting", author="ada")
    store = project.store
    assert store is not None
    peer = DocStore(tmp_path / "peer.sqlite")
    _, heads = store.history()
    peer.take_history(store.export_commits(), {n: h for n, h in heads.items() if h})
    peer.open().apply_update(store.doc.get_update())
    peer_project = Project.open(peer)
    _pipeline_with(peer_project, "made on the peer", "Add")
    theirs = peer_project.commit("the peer's idea", author="bob")
    project.pipelines.create("made here")
    ours = project.commit("our idea", author="ada")
    _, heads = peer.history()
    store.take_history(peer.export_commits(), {n: h for n, h in heads.items() if h})
    peer_project.close()

    view = HistoryView(session=session)
    marks = dict(zip(view.table.value["id"], view.table.value["head"], strict=True))
    assert marks[ours] == "head" and marks[theirs] == "divergent head" and marks[base] == ""
    assert view.divergence.visible and theirs in view.divergence.object and "bob" in view.divergence.object
    view.select(theirs)
    view.request_restore()
    restored = view.confirm_restore()
    assert restored is not None
    names = {p.name for p in project.pipelines.all()}
    assert "made on the peer" in names and "made here" not in names
    assert project.get_commit(restored).merged == (theirs,), "the restore joined the divergent heads"
    assert project.tips() == [restored] and not view.divergence.visible


def test_the_table_is_sent_again_when_the_history_tab_comes_to_the_front(session: Session) -> None:
    """Rows set while the tab was hidden can be lost by the browser's Tabulator: showing the tab re-sends them."""
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent

    view = HistoryView(session=session)
    _commit_with(view, "first")
    doc = Document()
    root = pn.panel(view).get_root(doc)
    doc.add_root(root)
    events: list[object] = []
    doc.on_change(events.append)
    session.tab = "Executions"
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    session.tab = "History"
    sent = [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    assert sent, "the rows went to the browser again"
    view.dispose()
    events.clear()
    session.tab = "Pipelines"
    session.tab = "History"
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)], "a disposed view stops"
