"""The workbench's look: Panel's Bootstrap design, with a dark theme that also darkens what Bootstrap leaves light."""

from __future__ import annotations

from typing import ClassVar

from panel.theme import Bootstrap
from panel.theme.base import Theme
from panel.theme.bootstrap import BootstrapDarkTheme
from panel.viewable import Viewable

DARK_CSS = """
:host {
  --df-muted: #c3c9cf;
  --df-faint: #a3aab1;
  --df-error: #ff8a80;
  --df-blocked: #d7b8ad;
}
a:link { color: var(--primary-text-color, #6ea8fe); }
a:visited { color: #b69cf0; }
.pnx-tabulator.tabulator .tabulator-footer,
.pnx-tabulator.tabulator .tabulator-footer .tabulator-page:disabled {
  background-color: var(--panel-surface-color, #2b3035);
  border-color: var(--panel-border-color, #3a3f44);
  color: var(--panel-on-surface-color, #fff);
}
.pnx-tabulator.tabulator .tabulator-footer .tabulator-page,
.pnx-tabulator.tabulator .tabulator-footer .tabulator-page-size {
  background-color: var(--panel-background-color, #212529);
  border-color: var(--panel-border-color, #3a3f44);
  color: var(--panel-on-background-color, #fff);
}
select[size] option:checked,
select[multiple] option:checked {
  background: var(--panel-primary-color, #0072b5)
    linear-gradient(var(--panel-primary-color, #0072b5), var(--panel-primary-color, #0072b5));
  color: var(--panel-on-primary-color, #fff);
}
.react-flow.dark {
  --xy-edge-stroke: #8f979f;
  --xy-edge-stroke-selected: #dee2e6;
  --xy-connectionline-stroke: #dee2e6;
}
.pnx-tabulator.tabulator .tabulator-footer .tabulator-page.active {
  background-color: var(--panel-primary-color, #0072b5);
  color: var(--panel-on-primary-color, #fff);
}
"""
"""Applied to every component in the dark theme: the table pager, links, the colors node bodies read, the
selected item of a list box (Chromium paints it light grey under light text) and graph edges (React Flow's
dark edges are dark grey on near black). The gradient is what Chromium paints over its own selection color."""


class WorkbenchDarkTheme(BootstrapDarkTheme):
    """Bootstrap's dark theme, plus :data:`DARK_CSS`."""

    modifiers: ClassVar[dict[type, dict[str, object]]] = {
        **BootstrapDarkTheme.modifiers,
        Viewable: {"stylesheets": [DARK_CSS]},
    }


class WorkbenchDesign(Bootstrap):
    """The Bootstrap design with :class:`WorkbenchDarkTheme` as its dark theme."""

    _themes: ClassVar[dict[str, type[Theme]]] = {**Bootstrap._themes, "dark": WorkbenchDarkTheme}
