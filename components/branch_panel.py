"""The branches of a project in the History tab: open one, compare it with the open branch, merge it in.

A merge asks first and shows what it will change (the merge made on a detached copy, diffed
against the live design); confirming commits "Merge <b> into <a>".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import panel as pn
import param

from deepforge_panel.branches import compare, merge, merge_preview
from deepforge_panel.components.markup import html_text, md_code
from deepforge_panel.components.version_view import diff_markdown
from deepforge_panel.crdt import CommitId, StoreError
from deepforge_panel.project import Project, ReadOnlyError

__all__ = ["BranchPanel", "branch_href"]


def branch_href(project: str, branch: str) -> str:
    """The page of ``project`` on ``branch`` (the theme kept), as a relative link."""
    args = {"project": project, **({"branch": branch} if branch != "main" else {})}
    if pn.config.theme == "dark":
        args["theme"] = "dark"
    return "?" + urlencode(args)


class BranchPanel(pn.viewable.Viewer):
    """Pick another branch: open it, compare its head with the open branch's, merge it into the open branch."""

    other = param.String(default=None, allow_None=True, doc="The branch picked to open, compare or merge.")
    merging = param.Boolean(default=False, doc="Whether the merge of ``other`` awaits confirmation.")

    def __init__(
        self,
        project: Project,
        report: Callable[[str, str], None],
        author: Callable[[], str | None],
        merged: Callable[[], None],
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.project = project
        self._report, self._author, self._merged = report, author, merged
        self.select = pn.widgets.Select(label="Other branch", options=[], width=220)
        self.select.param.watch(lambda e: setattr(self, "other", e.new), "value")
        self.open_link = pn.pane.HTML("", margin=(28, 10, 0, 10), css_classes=["df-open-branch"])
        self.compare_button = pn.widgets.Button(label="Compare", align="end")
        self.merge_button = pn.widgets.Button(label="Merge into this branch", color="warning", align="end")
        self.confirm_button = pn.widgets.Button(label="Confirm merge", color="danger", visible=False, align="end")
        self.cancel_button = pn.widgets.Button(label="Cancel", visible=False, align="end")
        self.compare_button.on_click(lambda _e: self.compare())
        self.merge_button.on_click(lambda _e: self.request_merge())
        self.confirm_button.on_click(lambda _e: self.confirm_merge())
        self.cancel_button.on_click(lambda _e: setattr(self, "merging", False))
        self.result = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["df-branch-diff"], visible=False)
        self._layout = pn.Column(
            "#### Branches",
            pn.Row(
                self.select,
                self.open_link,
                self.compare_button,
                self.merge_button,
                self.confirm_button,
                self.cancel_button,
            ),
            self.result,
            sizing_mode="stretch_width",
            visible=False,
        )
        self.refresh()
        self._show_other()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    @property
    def branch(self) -> str | None:
        return self.project.branch_name

    def refresh(self) -> None:
        """Re-read the branches (one was created, or another process made one)."""
        others = [name for name in self.project.branches() if name != self.branch]
        self._layout.visible = bool(others)
        self.select.options = others
        if self.select.value not in others:
            self.select.value = others[0] if others else None

    @param.depends("other", watch=True)
    def _show_other(self) -> None:
        self.merging = False
        self.result.visible = False
        self.merge_button.label = f"Merge into {self.branch}" if self.branch else "Merge"
        self.open_link.object = (
            f"<a href='{html_text(branch_href(self.project.name, self.other))}'>Open {html_text(self.other)}</a>"
            if self.other
            else ""
        )

    def _show(self, text: str) -> None:
        self.result.param.update(object=text, visible=True)

    def compare(self) -> bool:
        """Show what changed from the open branch's head to the picked branch's head."""
        if self.other is None or self.branch is None:
            return False
        try:
            diff = compare(self.project, self.branch, self.other)
        except (StoreError, ReadOnlyError) as exc:
            self._report(str(exc), "warning")
            return False
        self.merging = False
        self._show(
            f"##### From {md_code(self.branch)} to {md_code(self.other)} (their heads)\n\n"
            + diff_markdown(diff, "_The two heads have the same design._")
        )
        return True

    def request_merge(self) -> bool:
        """First step of a merge: show what it changes in the live design, and ask."""
        if self.other is None or self.branch is None:
            return False
        try:
            diff = merge_preview(self.project, self.other)
        except (StoreError, ReadOnlyError) as exc:
            self._report(str(exc), "warning")
            return False
        self._show(
            f"##### Merging {md_code(self.other)} into {md_code(self.branch)} changes\n\n"
            + diff_markdown(diff, "_nothing in the design: it has everything of that branch already._")
        )
        self.merging = True
        return True

    @param.depends("merging", watch=True)
    def _show_merging(self) -> None:
        self.confirm_button.visible = self.cancel_button.visible = self.merging
        self.merge_button.visible = self.compare_button.visible = not self.merging

    def confirm_merge(self) -> CommitId | None:
        """Second step: merge the picked branch's head into the open branch, as a new commit."""
        source = self.other
        if not self.merging or source is None:
            self._report("click 'Merge' first", "warning")
            return None
        self.merging = False
        try:
            commit_id = merge(self.project, source, self._author())
        except (StoreError, ReadOnlyError) as exc:
            self._report(f"could not merge {source}: {exc}", "error")
            return None
        self.result.visible = False
        self._merged()
        self._report(f"Merged {source} into {self.branch} (commit {commit_id})", "success")
        return commit_id
