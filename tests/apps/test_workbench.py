"""The workbench page outside a browser: what it sets up on the session's document."""

from __future__ import annotations

import panel as pn
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.resources import CDN_DIST, LOCAL_DIST
from panel.io.state import set_curdoc

from deepforge_panel.apps.workbench import serve_styles_locally


def test_stylesheets_updated_before_the_page_is_served_stay_local() -> None:
    doc = Document()
    markdown = pn.pane.Markdown("hello")
    with set_curdoc(doc):
        serve_styles_locally(doc)
        root = markdown.get_root(doc)
        markdown.stylesheets = [".x { color: red; }"]  # what a refresh may do before the page is rendered
    urls = [s.url for s in root.stylesheets if isinstance(s, ImportedStyleSheet)]
    assert any(LOCAL_DIST in url for url in urls), urls
    assert not any(url.startswith(CDN_DIST) for url in urls), urls


def test_an_address_panel_already_set_is_kept() -> None:
    doc = Document()
    doc._template_variables["dist_url"] = "/prefix/static/extensions/panel/"
    serve_styles_locally(doc)
    assert doc._template_variables["dist_url"] == "/prefix/static/extensions/panel/"
