"""Per-browser-session UI state: what this user has selected, never project state."""

from __future__ import annotations

from typing import Any

import param

from deepforge_panel.crdt import CommitId
from deepforge_panel.errors import USER_ERRORS, Place
from deepforge_panel.executions import ExecutionId
from deepforge_panel.hub import ProjectHub
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.presence import Presence
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
    color = param.Color(default="#1f77b4", doc="This user's color, as collaborators see it.")
    key = param.String(default="", doc="This browser tab's key among the people in the project (presence).")
    presence = param.ClassSelector(
        class_=Presence, default=None, allow_None=True, doc="Who is in this project right now (the hub's)."
    )
    selection = param.Tuple(
        default=None,
        allow_None=True,
        length=2,
        doc="What this user selected last, (kind, id): ('node', id) or ('layer', id).",
    )
    tab = param.String(default="Pipelines", doc="The workbench tab in front.")
    message = param.String(default="", doc="The last error or notice for this user.")
    fault = param.ClassSelector(
        class_=Place, default=None, allow_None=True, doc="Where the problem :attr:`message` tells of is, if it says."
    )
    focus = param.ClassSelector(
        class_=Place, default=None, allow_None=True, doc="An element of a library resource to show (its editor acts)."
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.param.watch(lambda _event: setattr(self, "fault", None), "message")  # a new message, a new place

    def refuse(self, error: Exception) -> None:
        """Tell this user why a request was refused, and where the problem is when the error says."""
        self.message = str(error)
        self.fault = getattr(error, "place", None)

    def show_fault(self) -> None:
        """Bring the element at fault into view: a pipeline's node, or a library resource's element in its tab."""
        place = self.fault
        if place is None:
            return
        if place.root == "pipelines":
            self.param.update(tab="Pipelines", pipeline=place.resource, node=place.element)
            return
        from deepforge_panel.libraries import loaded_libraries

        tab = next((lib.tab for lib in loaded_libraries() if lib.root == place.root and lib.tab), None)
        self.param.update(focus=place, **({"tab": tab} if tab else {}))

    def run(
        self,
        pipeline: str | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        *,
        cache: bool = True,
        compute: str | None = None,
    ) -> ExecutionId | None:
        """Start the given (or selected) pipeline and show its execution; errors land in ``message``. With ``cache``
        jobs whose results exist are taken, not run (only stale jobs run); without, every job runs. ``compute``
        ("local", "dask") runs it on that adapter this once instead of the project's."""
        target = pipeline or self.pipeline
        if target is None:
            self.message = "select a pipeline to run"
            return None
        orchestrator = self.hub.orchestrator(self.project.name, self.project.branch_name or "main", compute)
        try:
            execution_id = orchestrator.start(target, overrides, author=self.author, cache=cache)
        except USER_ERRORS as exc:
            self.refuse(exc)
            return None
        self.param.update(execution=execution_id, job=None, tab="Executions", message="")
        return execution_id

    async def run_checked(
        self,
        pipeline: str | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        *,
        cache: bool = True,
        compute: str | None = None,
    ) -> ExecutionId | None:
        """:meth:`run`, once the deeper checks of the resources the pipeline references pass (Keras:
        every layer's shapes), so a misfit is refused at once, not when the job builds the model."""
        target = pipeline or self.pipeline
        if target is None:
            self.message = "select a pipeline to run"
            return None
        try:
            await self.orchestrator().check(target, overrides)
        except USER_ERRORS as exc:
            self.refuse(exc)
            return None
        return self.run(target, overrides, cache=cache, compute=compute)

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
        branch = self.project.branch_name or "main"
        return bool(target) and self.hub.cancel(self.project.name, str(target), branch)

    def orchestrator(self) -> Orchestrator:
        """The orchestrator of this page's project on its branch: runs, cancels and storage go through it."""
        return self.hub.orchestrator(self.project.name, self.project.branch_name or "main")
