"""A notebook cell's outputs as shown under it: streams, results, errors and notes as inert HTML, figures as
Bokeh plots, embeddings as the data explorer. Panes are patched in place as outputs grow, so a stream
growing or a figure redrawing costs a small message, not a rebuilt page."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

import panel as pn

from deepforge_panel.components.embedding_view import EmbeddingView
from deepforge_panel.components.figures import FigureView
from deepforge_panel.components.markup import html_text

__all__ = ["CellOutputs", "render_output"]

_ANSI: Final = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CSS: Final = """
.df-out { margin: 2px 0; padding: 4px 8px; border-radius: 4px; font-size: 12.5px; white-space: pre-wrap;
  word-break: break-word; background: rgba(127, 127, 127, 0.08); max-height: 360px; overflow: auto; }
.df-out.df-stderr { background: rgba(240, 173, 78, 0.14); }
.df-out.df-error { color: #e0475a; background: rgba(220, 53, 69, 0.10); }
.df-note { font-style: italic; opacity: 0.8; font-size: 12.5px; margin: 2px 0; }
.df-html { width: 100%; border: 1px solid rgba(127, 127, 127, 0.3); border-radius: 4px; background: white;
  resize: vertical; }
"""

SaveSelection = Callable[[str, list[int], str], Awaitable[object]]
"""Save rows of the data a cell showed as (explorer name) as an artifact: (shown as, rows, artifact name)."""

Live = FigureView | EmbeddingView
"""An output drawn by a view of its own, updated in place."""


def render_output(output: dict[str, Any]) -> str:
    """One output (not a figure) as inert HTML: every text in it escaped, HTML results sandboxed."""
    kind = output.get("type")
    if kind == "stream":
        name = "df-stderr" if output.get("name") == "stderr" else "df-stdout"
        return f"<pre class='df-out {name}'>{html_text(output.get('text', ''))}</pre>"
    if kind == "result":
        if output.get("png"):
            return (
                f"<img alt='cell result' style='max-width:100%' src='data:image/png;base64,{html_text(output['png'])}'>"
            )
        if output.get("html"):
            body = str(output["html"])
            height = min(60 + 26 * body.lower().count("<tr"), 420)
            return (
                f"<iframe class='df-html' sandbox title='cell result' style='height:{height}px' "
                f"srcdoc='{html_text(body)}'></iframe>"
            )
        return f"<pre class='df-out df-result'>{html_text(output.get('text', ''))}</pre>"
    if kind == "error":
        trace = _ANSI.sub("", str(output.get("traceback") or ""))
        head = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        body = trace if head.strip(": ") in trace else f"{trace}\n{head}".strip()
        return f"<pre class='df-out df-error'>{html_text(body)}</pre>"
    return f"<div class='df-note'>{html_text(output.get('text', ''))}</div>"


class CellOutputs:
    """The outputs under one cell; :meth:`show` patches them, rebuilding only from the first that changed kind."""

    def __init__(self, save_selection: SaveSelection | None = None) -> None:
        self.save_selection = save_selection
        self.column = pn.Column(sizing_mode="stretch_width", margin=(0, 8))
        self._shown: list[tuple[str, pn.viewable.Viewable, Live | None]] = []

    @property
    def objects(self) -> list[pn.viewable.Viewable]:
        return list(self.column.objects)

    def show(self, outputs: list[dict[str, Any]]) -> None:
        shown = self._shown
        kept = 0
        for i, output in enumerate(outputs):
            kind = str(output.get("type"))
            if i >= len(shown) or shown[i][0] != kind:
                break
            _, pane, live = shown[i]
            if isinstance(live, FigureView):
                live.update(output["figure"])
            elif isinstance(live, EmbeddingView):
                live.update(output)
            elif pane.object != (html := render_output(output)):
                pane.object = html
            kept += 1
        fresh = [self._pane(output) for output in outputs[kept:]]
        if fresh or kept < len(shown):
            self._shown = shown[:kept] + fresh
            self.column.objects = [pane for _, pane, _ in self._shown]

    def _pane(self, output: dict[str, Any]) -> tuple[str, pn.viewable.Viewable, Live | None]:
        kind = str(output.get("type"))
        if kind == "figure":
            figure = FigureView(output["figure"])
            return kind, pn.panel(figure), figure
        if kind == "embedding":
            save = self.save_selection
            shown_as = str(output.get("name", ""))
            explorer = EmbeddingView(output, None if save is None else lambda rows, name: save(shown_as, rows, name))
            return kind, pn.panel(explorer), explorer
        return kind, pn.pane.HTML(render_output(output), sizing_mode="stretch_width", stylesheets=[CSS]), None

    @property
    def figures(self) -> list[FigureView]:
        return [live for _, _, live in self._shown if isinstance(live, FigureView)]

    @property
    def explorers(self) -> list[EmbeddingView]:
        return [live for _, _, live in self._shown if isinstance(live, EmbeddingView)]
