"""The data explorer's view: an embedding a notebook cell showed (``explorer.show``), as an interactive scatter.

Hover tells each point's row, label and prediction; the wheel zooms; points are colored by a column
the cell gave (the label, the prediction, or whether the prediction is wrong). A lasso (or box)
selection can be saved as a new artifact: the rows are taken in the session, where the data is, and the
artifact records the cells that made it plus that selection (``NotebookRunner.save_selection``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import panel as pn
from bokeh import palettes
from bokeh.models import ColumnDataSource, HoverTool

from deepforge_panel.components.figures import set_data
from deepforge_panel.components.markup import html_text, md_text

__all__ = ["EmbeddingView", "colors_for"]

TOOLS: Final = "pan,wheel_zoom,lasso_select,box_select,reset,save"
NO_COLOR: Final = "(one color)"
PREFERRED: Final = ("label", "prediction", "error")
"""The columns an embedding may have, in the order offered; the first present colors the points at first."""
ERROR_COLORS: Final = {"right": "#9aa5b1", "wrong": "#e0475a"}
"""By prediction error: the wrong ones stand out."""

SaveSelection = Callable[[list[int], str], Awaitable[object]]
"""Save these rows as an artifact of this name."""


def _natural(value: str) -> tuple[int, float | str]:
    """Numbers by value before other text (labels "2" before "10")."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def colors_for(values: list[str], column: str) -> tuple[list[str], dict[str, str]]:
    """A color per point for ``values`` and the legend (value -> color); errors in red, others a palette."""
    if column == "error":
        legend = {value: ERROR_COLORS.get(value, "#3f6cb5") for value in sorted(set(values))}
        return [legend[value] for value in values], legend
    factors = sorted(set(values), key=_natural)
    count = len(factors)
    if count <= 10:
        palette = palettes.Category10[10][:count]
    elif count <= 20:
        palette = palettes.Category20[20][:count]
    else:
        palette = tuple(palettes.Turbo256[int(i * 255 / (count - 1))] for i in range(count))
    legend = dict(zip(factors, palette, strict=True))
    return [legend[value] for value in values], legend


class EmbeddingView(pn.viewable.Viewer):
    """One ``embedding`` output: its scatter, a color-by choice, and saving the selected points."""

    def __init__(self, output: dict[str, Any], save: SaveSelection | None = None, **params: Any) -> None:
        super().__init__(**params)
        self._save = save
        self._output: dict[str, Any] = {}
        self.source = ColumnDataSource({"x": [], "y": [], "row": [], "color": []})
        self.figure = self._figure()
        self.title = pn.pane.Markdown("", margin=(0, 10))
        self.color_by = pn.widgets.Select(label="Color by", options=[], width=160)
        self.color_by.param.watch(lambda _e: self._recolor(), "value")
        self.legend = pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        self.selected = pn.pane.Markdown("*Select points with the lasso to save them as an artifact.*", margin=(0, 10))
        self.artifact_name = pn.widgets.TextInput(label="Artifact name", placeholder="name of the selection", width=200)
        self.save_button = pn.widgets.Button(label="Save selection", color="primary", disabled=True, align="end")
        self.save_button.on_click(self._save_clicked)
        self.source.selected.on_change("indices", lambda _attr, _old, _new: self._selection_changed())
        self._layout = pn.Column(
            self.title,
            pn.Row(self.color_by, self.artifact_name, self.save_button),
            pn.pane.Bokeh(self.figure),
            self.legend,
            self.selected,
            sizing_mode="stretch_width",
        )
        self.update(output)

    def _figure(self) -> Any:
        from bokeh.plotting import figure

        plot = figure(width=620, height=460, tools=TOOLS, active_scroll="wheel_zoom", active_drag="lasso_select")
        plot.toolbar.logo = None
        plot.scatter("x", "y", source=self.source, size=6, color="color", alpha=0.8, line_color=None)
        plot.add_tools(HoverTool(tooltips=[("row", "@row")]))
        plot.xaxis.visible = plot.yaxis.visible = False
        plot.grid.visible = False
        return plot

    @property
    def rows(self) -> list[int]:
        """The rows of the shown data that are selected."""
        return sorted(int(self.source.data["row"][i]) for i in self.source.selected.indices)

    def update(self, output: dict[str, Any]) -> None:
        """Show ``output`` (an embedding output of a cell); nothing happens when it is the one shown."""
        if output == self._output:
            return
        self._output = output
        points = output.get("points") or {}
        columns: dict[str, list[str]] = points.get("columns") or {}
        count = len(points.get("x") or [])
        self.title.object = (
            f"**{md_text(output.get('name', ''))}**: {count} points, {md_text(output.get('method', ''))} embedding"
        )
        known = [name for name in PREFERRED if name in columns]  # the document keeps keys sorted: choose an order
        options = [*known, *sorted(set(columns) - set(known)), NO_COLOR]
        self.color_by.options = options
        if self.color_by.value not in options:
            self.color_by.value = options[0]
        hover = self.figure.select_one(HoverTool)
        hover.tooltips = [("row", "@row"), *((name, f"@{name}") for name in options if name in columns)]
        data = {"x": list(points.get("x") or []), "y": list(points.get("y") or []), "row": list(range(count))}
        data.update(columns)
        data["color"] = self._colors(data)
        self.source.selected.indices = []
        set_data(self.source, data)

    def _colors(self, data: dict[str, list[Any]]) -> list[str]:
        column = self.color_by.value
        if column == NO_COLOR or column not in data:
            self.legend.object = ""
            return ["#3f6cb5"] * len(data["row"])
        colors, legend = colors_for([str(v) for v in data[column]], column)
        self.legend.object = "".join(
            f"<span style='margin-right:10px;white-space:nowrap'><span style='display:inline-block;width:10px;"
            f"height:10px;border-radius:50%;background:{color};margin-right:4px'></span>{html_text(value)}</span>"
            for value, color in legend.items()
        )
        return colors

    def _recolor(self) -> None:
        data = dict(self.source.data)
        colors = self._colors(data)
        if list(data.get("color", [])) != colors:
            self.source.data["color"] = colors

    def _selection_changed(self) -> None:
        rows = self.rows
        self.save_button.disabled = not rows or self._save is None
        self.selected.object = (
            f"**{len(rows)}** point{'s' if len(rows) != 1 else ''} selected" if rows else "*Nothing selected.*"
        )

    async def _save_clicked(self, _event: object = None) -> None:
        await self.save_selection()

    async def save_selection(self) -> None:
        """Save the selected rows as an artifact named as the name field says."""
        rows, name = self.rows, self.artifact_name.value.strip()
        if self._save is None or not rows:
            return
        if not name:
            self.selected.object = "**Give the selection a name first.**"
            return
        self.save_button.disabled = True
        try:
            await self._save(rows, name)
        finally:
            self.save_button.disabled = not self.rows

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
