"""The artifact browser: a project's artifacts, their provenance as a tree, download and recreate.

Everything shown is read from ``project.artifacts`` on each refresh; the only state kept here
is which artifact this user selected and the format to download it as. Downloads are files people
can open (:mod:`deepforge_panel.downloads`), converted in a worker process while the page stays live.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pandas as pd
import panel as pn
import param

from deepforge_panel.artifacts import Artifact, read_artifact, unreachable
from deepforge_panel.components.artifact_upload import UploadZone
from deepforge_panel.components.base import ProjectComponent, notify, resend_when_shown
from deepforge_panel.components.markup import html_text, md_block, md_code, md_text
from deepforge_panel.components.session import Session
from deepforge_panel.downloads import DownloadFormat, convert, formats
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.implicit import IMPLICIT
from deepforge_panel.pipelines import PipelineId
from deepforge_panel.provenance import lineage, reify

COLUMNS = ["name", "type", "size", "hash", "created", "made by"]
DOWNLOAD_ERRORS: tuple[type[Exception], ...] = (*USER_ERRORS, OSError)
"""What a download reports instead of sending a file: a conversion refused, the stored bytes unreadable."""
NESTED_OPEN_DEPTH = 2
"""Input cards deeper than this start collapsed, so long chains stay readable."""


def human_size(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def format_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def made_by(artifact: Artifact) -> str:
    """Which pipeline node produced the artifact, or that it came from outside."""
    record = artifact.provenance
    if record and record.get("kind") == IMPLICIT:
        return f"notebook {record.get('notebook')} ({len(record.get('cells') or [])} cells)"
    uploaded = (record or {}).get("uploaded")
    if isinstance(uploaded, dict):
        return f"uploaded by {uploaded.get('by') or 'someone'}"
    if not record or record.get("kind") != "ExecutedJob":
        return "uploaded (no provenance)"
    return f"{record['pipeline']} / {record['node']}"


def recreatable(artifact: Artifact) -> bool:
    """Whether a pipeline can be made from the artifact's provenance: a job's, or a notebook's chain of cells."""
    return bool(lineage(artifact.provenance)) or (artifact.provenance or {}).get("kind") == IMPLICIT


def download_name(artifact: Artifact, fmt: DownloadFormat) -> str:
    """A safe file name: the artifact's name, sanitized, with the format's extension."""
    stem = re.sub(r"[^\w.\-]+", "_", artifact.name).strip("._") or artifact.id
    return f"{stem}{fmt.extension}"


def format_note(filename: str, fmt: DownloadFormat) -> str:
    """What the download saves as and how to open it, as Markdown (everything escaped)."""
    text = f"Downloads as {md_code(filename)}"
    text += f"; open it with {md_code(fmt.opener)}." if fmt.opener else "."
    return f"{text} {md_text(fmt.note)}" if fmt.note else text


class FormatDownload(pn.widgets.FileDownload):
    """A FileDownload whose callback may return None: it reported why there is nothing to send, so none is sent.

    It also shows its ``color``, which Panel 1.9's FileDownload drops on the way to the browser.
    """

    def _sync_data(self, fileobj: Any) -> None:
        if fileobj is not None:
            super()._sync_data(fileobj)

    def _process_param_change(self, params: dict[str, Any]) -> dict[str, Any]:
        color = params.get("color", params.get("button_type"))
        properties: dict[str, Any] = super()._process_param_change(params)
        if color is not None:
            properties["button_type"] = color
        return properties


def _cell(value: str) -> str:
    """A table cell: an inline code span, with the pipes that would end the cell escaped."""
    return md_code(value).replace("|", "\\|")


def _attributes_table(attributes: dict[str, Any]) -> str:
    if not attributes:
        return "_no attributes_"
    rows = "\n".join(f"| {_cell(name)} | {_cell(repr(value))} |" for name, value in sorted(attributes.items()))
    return f"| attribute | value |\n|---|---|\n{rows}"


def job_card(record: dict[str, Any], port: str | None = None, depth: int = 0) -> pn.Card:
    """One ExecutedJob as a card: what ran, with which attributes and code, and what fed it (recursively)."""
    operation = record["operation"]
    title = f"{operation['name']} · node {record['node']}"
    if port is not None:
        title = f"input {port} ← {title}"
    title = html_text(title)  # a Card renders its title as HTML
    summary = pn.pane.Markdown(
        f"output {md_code(record['output'])} of pipeline **{md_text(record['pipeline'])}**, "
        f"execution {md_code(record['execution'])}, commit {md_code(record['commit'])}",
        margin=(0, 10),
    )
    attributes = pn.pane.Markdown(_attributes_table(record["attributes"]), margin=(0, 10))
    caveats = [
        pn.pane.Alert(f"**May not repeat bit for bit:** {md_text(note)}", alert_type="warning", margin=(0, 10))
        for note in record.get("caveats") or []
    ]
    code = pn.Card(
        pn.pane.Markdown(md_block(operation["code"], "python"), sizing_mode="stretch_width"),
        title=html_text(f"code of {operation['name']}"),
        collapsed=True,
        sizing_mode="stretch_width",
    )
    inputs = [input_view(name, source, depth + 1) for name, source in sorted(record["inputs"].items())]
    return pn.Card(
        summary,
        *caveats,
        attributes,
        code,
        *inputs,
        title=title,
        collapsed=depth > NESTED_OPEN_DEPTH,
        sizing_mode="stretch_width",
    )


def input_view(port: str, source: dict[str, Any], depth: int) -> pn.viewable.Viewable:
    """An input of a job: the job that made it, or a note that the data came from outside."""
    upstream = source.get("provenance")
    if upstream and upstream.get("kind") == "ExecutedJob":
        return job_card(upstream, port, depth)
    if upstream and upstream.get("kind") == IMPLICIT:
        return notebook_card(upstream)
    return pn.pane.Markdown(
        f"input {md_code(port)}: artifact {md_code(source.get('artifact'))} with no provenance (uploaded data)",
        margin=(0, 10),
    )


def notebook_card(record: dict[str, Any]) -> pn.Card:
    """An artifact a notebook saved: the chain of cells that made it, in order, and the artifacts they loaded."""
    cells = record.get("cells") or []
    loaded = record.get("loaded") or []
    summary = pn.pane.Markdown(
        f"saved as {md_code(record.get('output'))} by notebook **{md_text(record.get('notebook'))}**, "
        f"from {len(cells)} cell{'s' if len(cells) != 1 else ''} run on {md_code(record.get('adapter'))}"
        + (
            "; loaded "
            + ", ".join(f"{md_code(item.get('name'))} ({md_code(str(item.get('hash'))[:12])})" for item in loaded)
            if loaded
            else "; loaded no artifact"
        ),
        margin=(0, 10),
    )
    code = [
        pn.Card(
            pn.pane.Markdown(md_block(str(cell.get("code", "")), "python"), sizing_mode="stretch_width"),
            title=html_text(f"cell {number} of {len(cells)}"),
            collapsed=number < len(cells),
            sizing_mode="stretch_width",
        )
        for number, cell in enumerate(cells, 1)
    ]
    return pn.Card(summary, *code, title=html_text(f"notebook {record.get('notebook')}"), sizing_mode="stretch_width")


def uploaded_text(uploaded: dict[str, Any]) -> str:
    """Where an uploaded artifact came from, as Markdown: who, when, from which file, through what."""
    when = uploaded.get("time")
    parts = [f"**Uploaded** by {md_text(uploaded.get('by') or 'someone')}"]
    if isinstance(when, (int, float)):
        parts.append(f"on {format_time(when)}")
    if uploaded.get("filename"):
        parts.append(f"from the file {md_code(uploaded['filename'])}")
    through = {"api": "REST API", "cli": "command line"}.get(str(uploaded.get("through")))
    if through:
        parts.append(f"(through the {through})")
    return " ".join(parts) + ". It was not made by a job here, so no pipeline can be recreated from it."


def provenance_tree(provenance: dict[str, Any] | None) -> pn.viewable.Viewable:
    """The provenance of an artifact as nested cards, or a note when there is none."""
    if provenance and provenance.get("kind") == IMPLICIT:
        return notebook_card(provenance)
    if provenance and isinstance(provenance.get("uploaded"), dict):
        return pn.pane.Markdown(uploaded_text(provenance["uploaded"]), sizing_mode="stretch_width")
    if not provenance or provenance.get("kind") != "ExecutedJob":
        return pn.pane.Markdown(
            "This artifact has **no provenance**: it was not made by a job here (uploaded or imported data), "
            "so no pipeline can be recreated from it."
        )
    return job_card(provenance)


class ArtifactBrowser(ProjectComponent):
    """A table of the project's artifacts; the selected one's details, provenance, download and recreate."""

    roots = ("artifacts",)

    session = param.ClassSelector(class_=Session, doc="This browser tab's session: selection, hub, author.")
    artifact = param.String(default=None, allow_None=True, doc="Id of the selected artifact.")

    def __init__(self, **params: Any) -> None:
        if params.get("project") is None and params.get("session") is not None:
            params["project"] = params["session"].project
        super().__init__(**params)
        self.empty = pn.pane.Markdown(
            "### No artifacts yet\nRun a pipeline: the outputs of its jobs appear here with their provenance. "
            "Or upload your own data above."
        )
        self.upload = UploadZone(
            project=self.project.name,
            author=self.session.author if self.session is not None else "",
            sizing_mode="stretch_width",
        )
        if self.session is not None:
            self.session.param.watch(lambda event: setattr(self.upload, "author", event.new), "author")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS),
            show_index=False,
            selectable=1,
            disabled=True,
            pagination="local",
            page_size=25,
            sizing_mode="stretch_width",
        )
        self.table.param.watch(self._on_selection, "selection")
        self._unshown = resend_when_shown(self.session, "Artifacts", self.table) if self.session is not None else None
        self.header = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.format = pn.widgets.Select(
            options={}, disabled=True, width=230, description="The kind of file to download."
        )
        self.format.param.watch(lambda _event: self._show_format(), "value")
        self.download = FormatDownload(
            callback=self.download_file,
            filename="artifact.pkl",
            label="Download",
            color="primary",
            disabled=True,
            description="The artifact as a file of the chosen format.",
        )
        self.format_note = pn.pane.Markdown("", visible=False, sizing_mode="stretch_width", margin=(0, 10))
        self.recreate_button = pn.widgets.Button(label="Recreate pipeline", color="success", disabled=True)
        self.recreate_button.on_click(lambda _event: self.recreate())
        self.message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.tree = pn.Column(sizing_mode="stretch_width")
        self.details = pn.Column(
            self.header,
            pn.Row(self.format, self.download, self.recreate_button),
            self.format_note,
            self.message,
            pn.pane.Markdown("#### Provenance"),
            self.tree,
            visible=False,
            sizing_mode="stretch_width",
        )
        self._layout = pn.Column(self.upload, self.empty, self.table, self.details, sizing_mode="stretch_width")
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    # -- rendering ------------------------------------------------------------------------
    def refresh(self) -> None:
        artifacts = sorted(self.project.artifacts.all(), key=lambda a: a.created, reverse=True)
        frame = pd.DataFrame(
            [[a.name, a.type, human_size(a.size), a.hash[:12], format_time(a.created), made_by(a)] for a in artifacts],
            columns=COLUMNS,
            index=pd.Index([a.id for a in artifacts], name="id"),
        )
        self.table.value = frame
        self.empty.visible = not artifacts
        self.table.visible = bool(artifacts)
        if self.artifact is not None and self.artifact not in frame.index:
            self.artifact = None
        self._sync_selection()

    def _sync_selection(self) -> None:
        index = self.table.value.index
        wanted = [index.get_loc(self.artifact)] if self.artifact in index else []
        if self.table.selection != wanted:
            self.table.selection = wanted

    def _on_selection(self, event: param.parameterized.Event) -> None:
        index = self.table.value.index
        self.artifact = str(index[event.new[0]]) if event.new and event.new[0] < len(index) else None

    @param.depends("artifact", watch=True)
    def _show_details(self) -> None:
        self._sync_selection()
        self.message.visible = False
        if self.artifact is None:
            self.details.visible = False
            self.tree.objects = []
            self.download.disabled = self.recreate_button.disabled = self.format.disabled = True
            return
        artifact = self.project.artifacts.get(self.artifact)
        self.header.object = (
            f"### {md_text(artifact.name)}\n"
            f"**type** {md_code(artifact.type)} · **size** {human_size(artifact.size)} ({artifact.size} bytes) · "
            f"**created** {format_time(artifact.created)}  \n"
            f"**made by** {md_text(made_by(artifact))} · **hash** {md_code(artifact.hash)}  \n"
            f"**stored at** {md_code(artifact.url)}"
        )
        problem = self._unreachable(artifact)
        if problem is not None:
            self.message.param.update(object=md_text(problem), alert_type="warning", visible=True)
        offered = {fmt.label: fmt.key for fmt in formats(artifact.type)}
        self.format.param.update(options=offered, value=next(iter(offered.values())), disabled=False)
        self._show_format()
        self.recreate_button.disabled = not recreatable(artifact)
        self.tree.objects = [provenance_tree(artifact.provenance)]
        self.details.visible = True

    def _unreachable(self, artifact: Artifact) -> str | None:
        """Why this workbench cannot read the artifact (a peer stored it elsewhere), if it cannot."""
        if self.session is None or self.session.hub is None:
            return None
        return unreachable(artifact, self.session.orchestrator().storage)

    def chosen_format(self) -> tuple[Artifact, DownloadFormat]:
        """The selected artifact and the format chosen for it; ValueError when there is none."""
        if self.artifact is None:
            raise ValueError("select an artifact to download")
        artifact = self.project.artifacts.get(self.artifact)
        offered = {fmt.key: fmt for fmt in formats(artifact.type)}
        return artifact, offered.get(self.format.value) or next(iter(offered.values()))

    def _show_format(self) -> None:
        """The file name and note of the chosen format."""
        if self.artifact is None:
            return
        artifact, fmt = self.chosen_format()
        filename = download_name(artifact, fmt)
        self.download.param.update(filename=filename, disabled=False)
        self.format_note.param.update(object=format_note(filename, fmt), visible=True)

    def _report(self, text: str, level: str) -> None:
        self.message.param.update(
            object=md_text(text), alert_type="danger" if level == "error" else level, visible=True
        )
        if self.session is not None:
            self.session.message = text
        notify(text, level)

    # -- actions ----------------------------------------------------------------------------
    def select(self, artifact_id: str | None) -> None:
        """Select an artifact (as clicking its row does)."""
        if artifact_id is not None:
            self.project.artifacts.get(artifact_id)
        self.artifact = artifact_id

    async def download_file(self) -> io.BytesIO | None:
        """The selected artifact in the chosen format, read through the project's storage adapter.

        None when it cannot be read or converted: the message says why, and the stored artifact is untouched.
        """
        if self.session is None or self.session.hub is None:
            raise ValueError("downloading needs a session with a project hub (the storage adapter lives there)")
        artifact, fmt = self.chosen_format()
        self.download.loading = True
        try:
            storage = self.session.orchestrator().storage
            data = await convert(read_artifact(artifact, storage), artifact.type, fmt, artifact.name)
        except DOWNLOAD_ERRORS as exc:
            self._report(
                f"could not download {artifact.name!r}: {exc}" if isinstance(exc, OSError) else str(exc), "error"
            )
            return None
        finally:
            self.download.loading = False
        if self.message.alert_type == "danger":
            self.message.visible = False  # an earlier failure is over
        return io.BytesIO(data)

    def recreate(self) -> PipelineId | None:
        """Turn the selected artifact's provenance into a new pipeline and open it in the editor."""
        if self.artifact is None:
            self._report("select an artifact to recreate its pipeline", "warning")
            return None
        artifact = self.project.artifacts.get(self.artifact)
        if not recreatable(artifact):
            self._report(
                f"artifact {artifact.name!r} has no provenance (uploaded or imported data): "
                "there is no pipeline to recreate",
                "warning",
            )
            return None
        try:
            pipeline_id = reify(self.project, artifact.id)
        except USER_ERRORS as exc:
            self._report(f"could not recreate a pipeline from {artifact.name!r}: {exc}", "error")
            return None
        name = self.project.pipelines.get(pipeline_id).name
        if self.session is not None:
            self.session.param.update(pipeline=pipeline_id, tab="Pipelines")
        self._report(f"Recreated pipeline {name!r} from {artifact.name!r}", "success")
        return pipeline_id
