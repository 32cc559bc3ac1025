"""The workbench page: the start page without ``?project=``, else one project's editors and monitors."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

import panel as pn
from bokeh.document import Document
from panel.io.resources import LOCAL_DIST

from deepforge_panel.apps.theme import WorkbenchDesign
from deepforge_panel.components.artifact_browser import ArtifactBrowser
from deepforge_panel.components.code_echo import EchoGuard
from deepforge_panel.components.execution_monitor import ExecutionMonitor
from deepforge_panel.components.history import HistoryView
from deepforge_panel.components.identity import USER_COOKIE, Identity
from deepforge_panel.components.markup import html_text, md_code, md_text
from deepforge_panel.components.notebook_editor import NotebookEditor
from deepforge_panel.components.peers import PeersPanel, ShareDialog
from deepforge_panel.components.pipeline_editor import PipelineEditor
from deepforge_panel.components.presence import PresenceList
from deepforge_panel.components.project_list import ProjectList
from deepforge_panel.components.project_settings import ProjectSettings
from deepforge_panel.components.run_settings import RunSettings
from deepforge_panel.components.session import Session
from deepforge_panel.components.shortcuts import Shortcuts
from deepforge_panel.components.utilities_editor import UtilitiesEditor
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.hub import ProjectHub
from deepforge_panel.libraries import loaded_libraries

THEME_COOKIE = "df_theme"
"""Remembers the reader's light/dark choice, so a page opened by a plain link keeps it."""


def _theme() -> str:
    """``?theme=`` first, then the choice the header's toggle remembered."""
    args = pn.state.session_args or {}
    chosen = args.get("theme", [b""])[0].decode() or pn.state.cookies.get(THEME_COOKIE, "")
    return "dark" if chosen == "dark" else "default"


def _theme_link() -> pn.pane.HTML:
    """Reload with the other ``?theme=`` (the other arguments kept) and remember it in a cookie for a year."""
    other = "default" if pn.config.theme == "dark" else "dark"
    label = "☀ Light" if other == "default" else "☾ Dark"
    args = {key: values[0].decode() for key, values in (pn.state.session_args or {}).items() if values}
    href = html_text("?" + urlencode({**args, "theme": other}))
    remember = f"document.cookie = '{THEME_COOKIE}={other}; path=/; max-age=31536000; SameSite=Lax'"
    return pn.pane.HTML(
        f"<a href='{href}' class='df-theme' onclick=\"{remember}\" style='color:white;text-decoration:none'>{label}</a>",
        margin=(12, 10),
    )


def _template(title: str) -> pn.template.BootstrapTemplate:
    """Bootstrap: served from the server itself, no web fonts (the page works with the network unplugged)."""
    template = pn.template.BootstrapTemplate(
        title=title,
        header_background="#3f6cb5",
        collapsed_sidebar=True,
        theme=pn.config.theme,
        design=WorkbenchDesign,
    )
    template.header.append(_theme_link())
    return template


def start_page(hub: ProjectHub) -> pn.template.BootstrapTemplate:
    template = _template("DeepForge-Panel")
    template.main.append(ProjectList(hub=hub))
    return template


def project_page(hub: ProjectHub, name: str, branch: str = "main") -> pn.template.BootstrapTemplate:
    """``name``'s editors and monitors on ``branch`` (``?branch=``, default main): each branch has its own live document."""
    tab_id = secrets.token_hex(4)
    project = hub.project(name, branch).as_user(f"session-{tab_id}")
    session = Session(hub=hub, project=project, key=f"session:{tab_id}", presence=hub.presence(name, branch))
    on_branch = f" · branch {html_text(branch)}" if branch != "main" else ""
    template = _template(f"DeepForge-Panel · {html_text(project.name)}{on_branch}")
    editor = PipelineEditor(project=project, session=session)
    history = HistoryView(project=project, session=session)
    # Pipelines, then one tab per library offering an editor (Keras: "Architectures"), then the core's tabs.
    pages = [
        ("Pipelines", editor),
        *((lib.tab, lib.editor(project, session)) for lib in loaded_libraries() if lib.tab),
        ("Notebooks", NotebookEditor(project=project, session=session)),
        ("Executions", ExecutionMonitor(project=project, session=session)),
        ("Artifacts", ArtifactBrowser(project=project, session=session)),
        (
            "History",
            pn.Column(
                history,
                ProjectSettings(project=project),
                RunSettings(project=project, secrets=hub.workspace.secrets),
                UtilitiesEditor(project=project),
                PeersPanel(hub=hub, project=project),
                sizing_mode="stretch_width",
            ),
        ),
    ]
    titles = [title for title, _ in pages]
    # Each tab scrolls in its own window-high box: otherwise the tallest tab (a long run's feedback)
    # sets every tab's height, and the pipeline graph opens far below the window.
    tabs = pn.Tabs(
        *((title, pn.Column(view, scroll=True, sizing_mode="stretch_both")) for title, view in pages),
        dynamic=False,
        sizing_mode="stretch_both",
    )
    tabs.param.watch(lambda e: setattr(session, "tab", titles[e.new]), "active")
    session.param.watch(lambda e: setattr(tabs, "active", titles.index(e.new)) if e.new in titles else None, "tab")

    commit_message = pn.widgets.TextInput(label="Commit message", placeholder="what changed?", width=400)
    commit_status = pn.pane.Markdown("")

    def commit(_event: object = None) -> None:
        commit_id = session.commit(commit_message.value)
        if commit_id is None:
            commit_status.object = md_text(session.message)
            return
        commit_status.object = f"Committed {md_code(commit_id)}."
        commit_message.value = ""
        template.close_modal()

    commit_button = pn.widgets.Button(label="Commit", color="primary")
    commit_button.on_click(commit)
    commit_message.param.watch(lambda _e: commit() if commit_message.value.strip() else None, "enter_pressed")
    # One modal, two dialogs: the commit dialog first (Ctrl+S focuses the modal's first text field).
    commit_dialog = pn.Column("### Commit this version", commit_message, commit_button, commit_status)
    share_dialog = ShareDialog(hub=hub, project=project)
    share_view = pn.Column(share_dialog, visible=False, sizing_mode="stretch_width")
    template.modal.extend([commit_dialog, share_view])

    def open_dialog(share: bool) -> None:
        if share:
            share_dialog.refresh()
        commit_dialog.visible, share_view.visible = not share, share
        template.open_modal()

    if hub.peering is not None:
        share_button = pn.widgets.Button(
            label="Share", button_type="light", margin=(8, 10), css_classes=["df-share-open"]
        )
        share_button.on_click(lambda _e: open_dialog(True))
        template.header.append(share_button)

    shortcuts = Shortcuts(width=0, height=0, margin=0)
    shortcuts.actions = {
        "run": editor.run,
        "commit": lambda: open_dialog(False),
        "undo": history.undo,
        "redo": history.redo,
    }
    header_link = pn.pane.HTML("<a href='/' style='color:white'>All projects</a>", margin=(10, 10))
    template.header.append(header_link)
    identity = Identity(session=session, remembered=pn.state.cookies.get(USER_COOKIE))
    template.header.append(identity.badge)
    _be_present(session)
    template.header.append(PresenceList(session=session))
    guard = EchoGuard(width=0, height=0, margin=0)  # before any code editor follows the document
    template.main.append(pn.Column(shortcuts, guard, identity.cookie, identity, tabs, sizing_mode="stretch_both"))
    return template


def _be_present(session: Session) -> None:
    """Show this tab to the others in the project (name, color, selection) until the tab is closed."""
    presence, key = session.presence, session.key
    if presence is None:
        return
    presence.join(key, session.author, session.color)
    session.param.watch(lambda _event: presence.join(key, session.author, session.color), ["author", "color"])
    session.param.watch(lambda event: presence.select(key, event.new), "selection")
    if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
        pn.state.on_session_destroyed(lambda _context: presence.leave(key))


def error_page(message: str) -> pn.template.BootstrapTemplate:
    template = _template("DeepForge-Panel")
    template.main.append(pn.pane.Alert(md_text(message), alert_type="danger"))
    template.main.append(pn.pane.HTML("<a href='/'>Back to all projects</a>"))
    return template


def serve_styles_locally(doc: Document | None) -> None:
    """Point ``doc``'s stylesheets at this server from the start, not from when its page is served.

    Panel learns where its CSS lives (``dist_url``) when it renders the session's HTML page;
    a component that updates a stylesheet before that (a refresh scheduled while the page is
    being built) gets Panel's CDN address instead, which fails offline.
    """
    if doc is not None:
        doc._template_variables.setdefault(
            "dist_url", f"{pn.state.rel_path}/{LOCAL_DIST}" if pn.state.rel_path else LOCAL_DIST
        )


def workbench(hub: ProjectHub) -> pn.template.BootstrapTemplate:
    """Build the page for one browser session; a failure is explained on a page, never a bare traceback."""
    serve_styles_locally(pn.state.curdoc)
    pn.config.theme = _theme()  # for this session only: the code editors and tables built below follow it
    name = pn.state.session_args.get("project", [b""])[0].decode()
    branch = pn.state.session_args.get("branch", [b""])[0].decode() or "main"
    try:
        return project_page(hub, name, branch) if name else start_page(hub)
    except USER_ERRORS as exc:
        return error_page(str(exc))
    except Exception as exc:
        logging.getLogger(__name__).exception("could not build the workbench page")
        return error_page(f"The workbench could not open this page: {exc!r}. The server log has the details.")
