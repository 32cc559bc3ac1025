"""Per-browser-session UI state: what this user has selected, never project state."""

from __future__ import annotations

from typing import Any

import param

from deepforge_panel.crdt import CommitId
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.executions import ExecutionId
from deepforge_panel.hub import ProjectHub
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project, default_author


class Session(param.Parameterized):
    """One browser tab's selection and the actions that span components (run, commit, open)."""

    hub = param.ClassSelector(class_=ProjectHub, doc="The server's open projects.")
    project = param.ClassSelector(class_=Project, doc="This session's handle on the project (edits carry its origin).")
    pipeline = param.String(default=None, allow_None=True, doc="Id of the pipeline shown in the editor.")
    node = param.String(default=None, allow_None=True, doc="Id of the selected node in that pipeline.")
    execution = param.String(default=None, allow_None=True, doc="Id of the execution shown in the monitor.")
    job = param.String(default=None, allow_None=True, doc="Id of the selected job in that execution.")
    author = param.String(default=default_author(), doc="Who this session's commits and runs are recorded as.")
    tab = param.String(default="Pipelines", doc="The workbench tab in front.")
    message = param.String(default="", doc="The last error or notice for this user.")

    def run(
        self, pipeline: str | None = None, overrides: dict[str, dict[str, Any]] | None = None
    ) -> ExecutionId | None:
        """Start the given (or selected) pipeline and show its execution; errors land in ``message``."""
        target = pipeline or self.pipeline
        if target is None:
            self.message = "select a pipeline to run"
            return None
        orchestrator = self.orchestrator()
        try:
            execution_id = orchestrator.start(target, overrides, author=self.author)
        except USER_ERRORS as exc:
            self.message = str(exc)
            return None
        self.param.update(execution=execution_id, job=None, tab="Executions", message="")
        return execution_id

    def commit(self, message: str) -> CommitId | None:
        """Commit the live project as this session's author: the one way the UI commits. Errors land in ``message``."""
        text = message.strip()
        if not text:
            self.message = "a commit needs a message: say what changed"
            return None
        try:
            commit_id = self.project.commit(text, author=self.author)
        except USER_ERRORS as exc:
            self.message = f"could not commit: {exc}"
            return None
        self.message = ""
        return commit_id

    def cancel(self, execution_id: str | None = None) -> bool:
        target = execution_id or self.execution
        return bool(target) and self.orchestrator().cancel(target)

    def orchestrator(self) -> Orchestrator:
        """The orchestrator of this page's project on its branch: runs, cancels and storage go through it."""
        return self.hub.orchestrator(self.project.name, self.project.branch_name or "main")
