"""The history view: commits of the open branch, each old version read-only with its diff to now, restore,
branches (create, open, compare, merge: ``branch_panel``), commit, undo.

Commits live in the project's store, beside the document, so the list is re-read whenever the
document changes, after this view's own actions, and (when served) on a slow poll of the
branch head, which is one query.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import panel as pn
import param

from deepforge_panel.components.base import ProjectComponent, notify, resend_when_shown
from deepforge_panel.components.branch_panel import BranchPanel
from deepforge_panel.components.markup import md_code, md_text
from deepforge_panel.components.session import Session
from deepforge_panel.components.version_view import VersionView, diff_markdown
from deepforge_panel.crdt import ROOTS, Commit, CommitId, StoreError
from deepforge_panel.diff import describe_changes, design_changes, design_diff
from deepforge_panel.errors import NotFound
from deepforge_panel.project import Project, ReadOnlyError

COMMIT_COLUMNS = ["time", "author", "message", "id", "head"]
PREVIEW_COLUMNS = ["pipeline", "nodes", "edges", "operations"]
POLL_MS = 2000
"""How often a served view checks the branch head for commits made elsewhere (another tab, the CLI)."""


def format_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def restore_summary(live: Project, version: Project, commit_id: str) -> str:
    """What restoring ``version`` does to ``live``, in Markdown: the design changes counted, the records kept."""
    names = [name.replace("_", " ") for name in ROOTS.records]
    records = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
    kept = f"{records[:1].upper()}{records[1:]} are kept as they are."
    changes = design_changes(live, version)
    if not changes:
        return f"The design of version {md_code(commit_id)} is the current one: restore changes nothing in it. {kept}"
    return f"Restore makes the design equal to version {md_code(commit_id)}: {describe_changes(changes)}. {kept}"


def version_summary(version: Project) -> pd.DataFrame:
    """One row per pipeline of a (checked-out) version: its size and the operations it uses."""
    op_names: dict[str, str] = {op.id: op.name for op in version.operations.all()}
    rows = []
    for pipeline in version.pipelines.all():
        used = sorted({op_names.get(node.operation, f"missing {node.operation}") for node in pipeline.nodes.values()})
        rows.append([pipeline.name, len(pipeline.nodes), len(pipeline.edges), ", ".join(used)])
    return pd.DataFrame(rows, columns=PREVIEW_COLUMNS)


class HistoryView(ProjectComponent):
    """Commits newest first; preview, restore (with confirmation), branch and commit; undo/redo of this session's edits."""

    roots = ROOTS

    session = param.ClassSelector(class_=Session, doc="This browser tab's session: author and messages.")
    commit = param.String(default=None, allow_None=True, doc="Id of the selected commit.")
    confirming = param.Boolean(default=False, doc="Whether the restore of the selected commit awaits confirmation.")

    def __init__(self, **params: Any) -> None:
        if params.get("project") is None and params.get("session") is not None:
            params["project"] = params["session"].project
        super().__init__(**params)
        self._head: tuple[str, CommitId | None] | None = None
        self._version: Project | None = None
        """The selected commit's version, checked out once when it is selected."""
        self._undo = self.project.undo_manager() if self.project.origin is not None else None
        self.branch_info = pn.pane.Markdown("")
        self.empty = pn.pane.Markdown("_No commits yet: commit below, or run a pipeline (each run commits)._")
        self.divergence = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COMMIT_COLUMNS),
            show_index=False,
            selectable=1,
            disabled=True,
            pagination="local",
            page_size=20,
            sizing_mode="stretch_width",
        )
        self.table.param.watch(self._on_selection, "selection")
        self._unshown = resend_when_shown(self.session, "History", self.table) if self.session is not None else None

        self.preview_header = pn.pane.Markdown("")
        self.preview = pn.widgets.Tabulator(
            pd.DataFrame(columns=PREVIEW_COLUMNS), show_index=False, disabled=True, sizing_mode="stretch_width"
        )
        self.restore_effect = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self.restore_button = pn.widgets.Button(label="Restore this version", color="warning")
        self.confirm_button = pn.widgets.Button(label="Confirm restore", color="danger", visible=False)
        self.cancel_button = pn.widgets.Button(label="Cancel", visible=False)
        self.restore_button.on_click(lambda _event: self.request_restore())
        self.confirm_button.on_click(lambda _event: self.confirm_restore())
        self.cancel_button.on_click(lambda _event: setattr(self, "confirming", False))
        self.version_view = VersionView()
        self.diff = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["df-version-diff"])
        self.detail = pn.Column(
            self.preview_header,
            self.restore_effect,
            pn.Row(self.restore_button, self.confirm_button, self.cancel_button),
            self.preview,
            self.version_view,
            "#### Changes from this version to the current one",
            self.diff,
            visible=False,
            sizing_mode="stretch_width",
        )

        self.branch_name = pn.widgets.TextInput(placeholder="new branch name")
        self.branch_button = pn.widgets.Button(label="Create branch")
        self.branch_button.on_click(lambda _event: self.create_branch())
        self.commit_message = pn.widgets.TextInput(placeholder="commit message")
        self.commit_button = pn.widgets.Button(label="Commit", color="primary")
        self.commit_button.on_click(lambda _event: self.commit_now())
        self.undo_button = pn.widgets.Button(label="↶ Undo", disabled=True)
        self.redo_button = pn.widgets.Button(label="↷ Redo", disabled=True)
        self.undo_button.on_click(lambda _event: self.undo())
        self.redo_button.on_click(lambda _event: self.redo())
        self.message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.branches = BranchPanel(self.project, self._report, lambda: self._author, self._moved)

        self._layout = pn.Column(
            pn.Row(self.branch_info, pn.layout.HSpacer(), self.undo_button, self.redo_button),
            pn.Row(self.commit_message, self.commit_button),
            self.message,
            self.empty,
            self.divergence,
            self.table,
            self.detail,
            pn.Row(self.branch_name, self.branch_button),
            self.branches,
            sizing_mode="stretch_width",
        )
        self._poll: pn.io.callbacks.PeriodicCallback | None = None
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self._poll = pn.state.add_periodic_callback(self._refresh_commits, period=POLL_MS)
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # -- rendering ------------------------------------------------------------------------
    def refresh(self) -> None:
        self._refresh_commits()
        self._refresh_undo()
        self._show_diff()
        if self.confirming:  # the live design moved: say what restore changes now
            self._show_confirmation()

    def _show_diff(self) -> None:
        """What changed from the selected version to the live design (re-read as the live design moves)."""
        if self.commit is None or self._version is None:
            self.diff.object = ""
            return
        self.diff.object = diff_markdown(
            design_diff(self._version, self.project, self.commit, "current"),
            "_The current design is the same as this version's._",
        )

    def _refresh_commits(self) -> None:
        branch = self.project.branch_name
        if branch is None:
            self.branch_info.object = "### History\n_a detached version has no history_"
            return
        tips = self.project.tips()
        head = (branch, self.project.head(), *tips)
        if head == self._head:
            return
        self._head = head
        others = [name for name in self.project.branches() if name != branch]
        self.branch_info.object = f"### History of branch {md_code(branch)}" + (
            f"\nother branches: {', '.join(md_code(name) for name in others)}" if others else ""
        )
        self.branches.refresh()
        commits = self.project.log()
        divergent = self._divergent(commits, tips)
        marks = {**dict.fromkeys(divergent, "divergent head"), head[1]: "head"} if head[1] else {}
        commits = sorted([*commits, *self._since_fork(commits, divergent)], key=lambda c: c.time, reverse=True)
        self.table.value = pd.DataFrame(
            [[format_time(c.time), c.author, c.message, c.id, marks.get(c.id, "")] for c in commits],
            columns=COMMIT_COLUMNS,
            index=pd.Index([c.id for c in commits], name="commit"),
        )
        self.empty.visible = not commits
        self.table.visible = bool(commits)
        if self.commit is not None and self.commit not in self.table.value.index:
            self.commit = None
        self._sync_selection()

    def _divergent(self, commits: list[Commit], tips: list[CommitId]) -> list[CommitId]:
        """The branch's heads a peer made concurrently (not in this workbench's log), shown as such."""
        shown = {c.id for c in commits}
        divergent = [tip for tip in tips if tip not in shown]
        if not divergent:
            self.divergence.visible = False
            return []
        heads = ", ".join(
            f"{md_code(tip)} ({md_text(self.project.get_commit(tip).author)}: "
            f"{md_text(self.project.get_commit(tip).message)})"
            for tip in divergent
        )
        self.divergence.object = (
            f"**This branch has diverged:** a peer committed at the same time as this workbench. "
            f"Its other head{'s' if len(divergent) > 1 else ''}: {heads}. Both are kept: select one below to "
            "see its changes or restore it; the next commit joins them (the live document already holds both)."
        )
        self.divergence.visible = True
        return divergent

    def _since_fork(self, commits: list[Commit], divergent: list[CommitId]) -> list[Commit]:
        """The commits of the divergent heads back to where they left this workbench's log."""
        shown: set[str] = {c.id for c in commits}
        extra: list[Commit] = []
        for tip in divergent:
            cursor: str | None = tip
            while cursor is not None and cursor not in shown:
                commit = self.project.get_commit(cursor)
                extra.append(commit)
                shown.add(cursor)
                cursor = commit.parent
        return extra

    def _refresh_undo(self) -> None:
        if self._undo is None:
            return
        try:
            can_undo, can_redo = self._undo.can_undo(), self._undo.can_redo()
        except RuntimeError:  # called back from inside the manager's own undo/redo; the action refreshes after
            return
        self.undo_button.disabled = not can_undo
        self.redo_button.disabled = not can_redo

    def _sync_selection(self) -> None:
        index = self.table.value.index
        wanted = [index.get_loc(self.commit)] if self.commit in index else []
        if self.table.selection != wanted:
            self.table.selection = wanted

    def _on_selection(self, event: param.parameterized.Event) -> None:
        index = self.table.value.index
        self.commit = str(index[event.new[0]]) if event.new and event.new[0] < len(index) else None

    @param.depends("commit", watch=True)
    def _show_version(self) -> None:
        self._sync_selection()
        self.confirming = False
        if self.commit is None:
            self._version = None
            self.version_view.show(None)
            self._show_diff()
            self.detail.visible = False
            return
        info = self.project.get_commit(self.commit)
        version = self._version = self.project.checkout(self.commit)
        self.preview.value = version_summary(version)
        self.version_view.show(version)
        self._show_diff()
        self.preview_header.object = (
            f"#### Version {md_code(info.id)} (read-only)\n"
            f"{md_text(info.message)} — by **{md_text(info.author)}** on {format_time(info.time)}  \n"
            f"{len(version.operations.ids())} operations · {len(version.pipelines.ids())} pipelines · "
            f"{len(version.artifacts.ids())} artifacts · {len(version.executions.ids())} executions"
        )
        self.detail.visible = True

    @param.depends("confirming", watch=True)
    def _show_confirmation(self) -> None:
        if self.confirming and self.commit is not None and self._version is not None:
            self.restore_effect.object = restore_summary(self.project, self._version, self.commit)
        self.restore_effect.visible = self.confirming
        self.restore_button.visible = not self.confirming
        self.confirm_button.visible = self.cancel_button.visible = self.confirming

    def _report(self, text: str, level: str = "error") -> None:
        self.message.param.update(
            object=md_text(text), alert_type="danger" if level == "error" else level, visible=True
        )
        if self.session is not None:
            self.session.message = text
        notify(text, level)

    @property
    def _author(self) -> str | None:
        return self.session.author if self.session is not None else None

    # -- actions ----------------------------------------------------------------------------
    def select(self, commit_id: str | None) -> None:
        """Select a commit of this branch (as clicking its row does)."""
        if commit_id is not None and commit_id not in self.table.value.index:
            raise NotFound(f"no commit {commit_id!r} in the history of branch {self.project.branch_name!r}", commit_id)
        self.commit = commit_id

    def request_restore(self) -> None:
        """First step of a restore: ask for confirmation."""
        if self.commit is None:
            self._report("select a version to restore", "warning")
            return
        self.confirming = True

    def confirm_restore(self) -> CommitId | None:
        """Second step: make the live project equal to the selected version, as a new commit."""
        if not self.confirming or self.commit is None:
            self._report("click 'Restore this version' first", "warning")
            return None
        target = self.commit
        self.confirming = False
        try:
            new = self.project.restore(target, author=self._author)
        except (StoreError, ReadOnlyError) as exc:
            self._report(f"could not restore {target}: {exc}")
            return None
        self.commit = None
        self.refresh()
        self._report(f"Restored version {target} (new commit {new})", "success")
        return new

    def create_branch(self) -> bool:
        """Create the branch named in the text input at the selected commit (or the head)."""
        name = self.branch_name.value.strip()
        if not name:
            self._report("name the new branch first")
            return False
        try:
            self.project.branch(name, self.commit)
        except (StoreError, ReadOnlyError) as exc:
            self._report(str(exc))
            return False
        self.branch_name.value = ""
        self._moved()
        self._report(f"Created branch {name!r} at {self.commit or 'the head'}", "success")
        return True

    def commit_now(self) -> CommitId | None:
        """Commit with the message typed in, through the session (the one way the UI commits)."""
        if self.session is None:
            self._report("this view has no session to commit as")
            return None
        new = self.session.commit(self.commit_message.value)
        if new is None:
            self._report(self.session.message)
            return None
        self.commit_message.value = ""
        self.refresh()
        self._report(f"Committed {new}", "success")
        return new

    def _moved(self) -> None:
        """The branches or the head changed by this view's own action (a branch made, a merge): re-read."""
        self._head = None
        self.refresh()

    def undo(self) -> bool:
        """Undo this session's last edit (never a peer's or a job's)."""
        done = self._undo is not None and self._undo.undo()
        self.refresh()
        return done

    def redo(self) -> bool:
        done = self._undo is not None and self._undo.redo()
        self.refresh()
        return done

    def dispose(self) -> None:
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        super().dispose()
