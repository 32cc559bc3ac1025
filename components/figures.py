"""Matplotlib figure descriptions (``figure_to_data``) drawn as interactive Bokeh plots that update in place.

A job re-sends its whole figure whenever it redraws; :class:`FigureView` keeps its Bokeh
figures and data sources and only patches them, streaming the new points when a series
grew, so a loss curve gaining a point each epoch costs one small message. It rebuilds only
when the figure's structure (axes, renderers, scales) changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import panel as pn
from bokeh import palettes
from bokeh.layouts import gridplot
from bokeh.models import (
    ColumnDataSource,
    DataRange1d,
    GlyphRenderer,
    HoverTool,
    Legend,
    LegendItem,
    LinearColorMapper,
    Range1d,
)
from bokeh.models import LayoutDOM as BkLayout
from bokeh.plotting import figure as bokeh_figure

from deepforge_panel.components.markup import md_text

FigureData = dict[str, Any]
AxesData = dict[str, Any]

TOOLS = "pan,wheel_zoom,box_zoom,reset,save"

_DASHES = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dashdot"}
_MARKERS = {
    "o": "circle",
    ".": "dot",
    ",": "dot",
    "s": "square",
    "^": "triangle",
    "v": "inverted_triangle",
    "x": "x",
    "X": "x",
    "+": "cross",
    "P": "cross",
    "*": "asterisk",
    "D": "diamond",
    "d": "diamond",
    "h": "hex",
    "H": "hex",
    "p": "hex",
    "<": "triangle",
    ">": "triangle",
    "|": "dash",
    "_": "dash",
}
_BOKEH_PALETTES: dict[str, str | tuple[str, bool]] = {
    "viridis": "Viridis256",
    "magma": "Magma256",
    "inferno": "Inferno256",
    "plasma": "Plasma256",
    "cividis": "Cividis256",
    "turbo": "Turbo256",
    "gray": "Greys256",
    "grey": "Greys256",
    "binary": ("Greys256", True),
    "gist_gray": "Greys256",
    "gist_yarg": ("Greys256", True),
}
"""Matplotlib colormap -> Bokeh palette (and whether to reverse it); the colorbrewer names follow."""
_BREWER = ("Blues", "Greens", "Greys", "Oranges", "Purples", "Reds")


def palette_for(cmap: str) -> tuple[str, ...]:
    """The Bokeh palette closest to matplotlib colormap ``cmap``; Viridis256 when unknown."""
    name, reverse = cmap or "", False
    if name.endswith("_r"):
        name, reverse = name[:-2], True
    entry: str | tuple[str, bool] | None = _BOKEH_PALETTES.get(name)
    if entry is None and name in _BREWER:
        entry = (f"{name}256", True)  # Bokeh's brewer palettes run dark to light, matplotlib's light to dark
    if entry is None:
        entry, reverse = "Viridis256", False
    palette_name, flip = (entry, False) if isinstance(entry, str) else entry
    colors = tuple(getattr(palettes, palette_name))
    return colors[::-1] if flip != reverse else colors


def structure(figure: FigureData) -> tuple[Any, ...]:
    """What cannot change in place: the axes and, per axes, its renderers and scales."""
    return tuple(
        (
            ax.get("xscale", "linear"),
            ax.get("yscale", "linear"),
            tuple(bool(line.get("marker")) for line in ax.get("lines", [])),
            len(ax.get("scatter", [])),
            len(ax.get("bars", [])),
            tuple(not image.get("cmap") for image in ax.get("images", [])),
            bool(ax.get("legend")),
            bool(ax.get("xlim")),
            bool(ax.get("ylim")),
        )
        for ax in figure.get("axes", [])
    )


def _nan(values: Sequence[Any] | None) -> list[float]:
    return [math.nan if v is None else float(v) for v in values or []]


def _per_point(value: Any, count: int, default: Any) -> list[Any]:
    if isinstance(value, list):
        return value if len(value) == count else (value + [default] * count)[:count]
    return [default if value in (None, "") else value] * count


def set_data(source: ColumnDataSource, data: dict[str, list[Any]]) -> None:
    """Give ``source`` the columns ``data``: stream the new rows when they extend the old ones."""
    old = source.data
    if set(old) == set(data):
        old_rows = len(next(iter(old.values()), []))
        new_rows = len(next(iter(data.values()), []))
        if new_rows >= old_rows and all(_same(data[k][:old_rows], old[k]) for k in data):
            if new_rows > old_rows:
                source.stream({k: v[old_rows:] for k, v in data.items()})
            return
    source.data = data


def _same(new: Sequence[Any], old: Sequence[Any]) -> bool:
    if len(new) != len(old):
        return False
    return all(
        a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        for a, b in zip(new, old, strict=False)
    )


def in_document(model: BkLayout, change: Callable[[], None]) -> None:
    """Run ``change`` (which mutates Bokeh models) when it is safe for ``model``'s document.

    A server session's document may only change while its lock is held, which a project
    observer firing from the orchestrator does not hold; Bokeh runs next-tick callbacks under it.
    """
    doc = model.document
    if doc is None or doc.session_context is None:
        change()
    else:
        doc.add_next_tick_callback(change)


class AxesPlot:
    """One matplotlib axes as one Bokeh figure whose sources are updated in place."""

    def __init__(self, axes: AxesData, width: int, height: int) -> None:
        self.figure = bokeh_figure(
            width=width,
            height=height,
            tools=TOOLS,
            x_axis_type="log" if axes.get("xscale") == "log" else "linear",
            y_axis_type="log" if axes.get("yscale") == "log" else "linear",
            x_range=Range1d(0, 1) if axes.get("xlim") else DataRange1d(),
            y_range=Range1d(0, 1) if axes.get("ylim") else DataRange1d(),
        )
        self.figure.toolbar.logo = None
        fig = self.figure
        self.lines = [ColumnDataSource({"x": [], "y": []}) for _ in axes.get("lines", [])]
        self.line_renderers = [fig.line("x", "y", source=src) for src in self.lines]
        self.marker_renderers = [
            fig.scatter("x", "y", source=src, size=6) if line.get("marker") else None
            for src, line in zip(self.lines, axes.get("lines", []), strict=False)
        ]
        self.scatter = [ColumnDataSource({"x": [], "y": [], "color": [], "size": []}) for _ in axes.get("scatter", [])]
        self.scatter_renderers = [
            fig.scatter("x", "y", source=src, color="color", size="size", alpha=0.8) for src in self.scatter
        ]
        self.bars = [
            ColumnDataSource({"left": [], "right": [], "bottom": [], "top": [], "color": []})
            for _ in axes.get("bars", [])
        ]
        self.bar_renderers = [
            fig.quad(
                left="left",
                right="right",
                bottom="bottom",
                top="top",
                fill_color="color",
                line_color="white",
                source=src,
            )
            for src in self.bars
        ]
        self.images: list[ColumnDataSource] = []
        self.image_renderers: list[GlyphRenderer] = []
        self.color_mappers: list[LinearColorMapper | None] = []
        for image in axes.get("images", []):
            src = ColumnDataSource({"image": [], "x": [], "y": [], "dw": [], "dh": []})
            if image.get("cmap"):
                mapper = LinearColorMapper(palette=palette_for(image["cmap"]), nan_color=(0, 0, 0, 0))
                renderer = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", color_mapper=mapper, source=src)
            else:
                mapper = None
                renderer = fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=src)
            self.images.append(src)
            self.image_renderers.append(renderer)
            self.color_mappers.append(mapper)
        self.texts = ColumnDataSource({"x": [], "y": [], "text": []})
        fig.text("x", "y", text="text", source=self.texts, text_font_size="11px")
        pointed = self.line_renderers + self.scatter_renderers
        if pointed:
            fig.add_tools(HoverTool(renderers=pointed, tooltips=[("x", "@x{0.[0000]}"), ("y", "@y{0.[0000]}")]))
        self.legend: Legend | None = None
        if axes.get("legend"):
            self.legend = Legend(items=[], click_policy="hide", location="top_right")
            fig.add_layout(self.legend)
        self._images_shown: list[Any] = [None] * len(self.images)
        self._legend_shown: list[tuple[str, list[GlyphRenderer]]] = []

    def update(self, axes: AxesData) -> None:
        """Patch titles, ranges, styles and data to match ``axes`` (same structure as built)."""
        fig = self.figure
        fig.title.text = axes.get("title", "")
        fig.xaxis.axis_label = axes.get("xlabel") or None
        fig.yaxis.axis_label = axes.get("ylabel") or None
        _set_range(fig.x_range, axes.get("xlim"))
        _set_range(fig.y_range, axes.get("ylim"))
        for src, renderer, marker, line in zip(
            self.lines, self.line_renderers, self.marker_renderers, axes.get("lines", []), strict=False
        ):
            set_data(src, {"x": _nan(line.get("x")), "y": _nan(line.get("y"))})
            glyph = renderer.glyph
            glyph.update(
                line_color=line.get("color") or "#1f77b4",
                line_alpha=float(line.get("alpha", 1.0)),
                line_width=float(line.get("linewidth", 1.5)),
                line_dash=_DASHES.get(line.get("linestyle", "-"), "solid"),
            )
            renderer.visible = bool(line.get("linestyle"))
            if marker is not None:
                marker.glyph.update(
                    marker=_MARKERS.get(line["marker"], "circle"),
                    fill_color=glyph.line_color,
                    line_color=glyph.line_color,
                )
        for src, item in zip(self.scatter, axes.get("scatter", []), strict=False):
            xs = _nan(item.get("x"))
            sizes = [math.sqrt(s) * 1.4 if s else 6.0 for s in _per_point(item.get("size"), len(xs), 36.0)]
            set_data(
                src,
                {
                    "x": xs,
                    "y": _nan(item.get("y")),
                    "color": _per_point(item.get("color"), len(xs), "#1f77b4"),
                    "size": sizes,
                },
            )
        for src, item in zip(self.bars, axes.get("bars", []), strict=False):
            left, width = _nan(item.get("x")), _nan(item.get("width"))
            bottom, height = _nan(item.get("bottom")), _nan(item.get("height"))
            set_data(
                src,
                {
                    "left": left,
                    "right": [a + b for a, b in zip(left, width, strict=False)],
                    "bottom": bottom,
                    "top": [a + b for a, b in zip(bottom, height, strict=False)],
                    "color": _per_point(item.get("color"), len(left), "#1f77b4"),
                },
            )
        for index, image in enumerate(axes.get("images", [])):
            self._update_image(index, image)
        texts = [t for t in axes.get("texts", []) if t.get("x") is not None and t.get("y") is not None]
        set_data(
            self.texts, {"x": [t["x"] for t in texts], "y": [t["y"] for t in texts], "text": [t["text"] for t in texts]}
        )
        if self.legend is not None:
            self._update_legend(self.legend, axes)

    def _update_image(self, index: int, image: dict[str, Any]) -> None:
        mapper = self.color_mappers[index]
        if mapper is not None:
            low, high = ([*list(image.get("clim") or []), None, None])[:2]
            mapper.update(palette=palette_for(image.get("cmap", "")), low=low, high=high)
        if image == self._images_shown[index]:
            return
        self._images_shown[index] = image
        self.images[index].data = _image_columns(image)

    def _update_legend(self, legend: Legend, axes: AxesData) -> None:
        items = [
            (line.get("label", ""), [r for r in (renderer, marker) if r is not None])
            for line, renderer, marker in zip(
                axes.get("lines", []), self.line_renderers, self.marker_renderers, strict=False
            )
        ]
        items += [
            (item.get("label", ""), [r])
            for item, r in zip(axes.get("scatter", []), self.scatter_renderers, strict=False)
        ]
        items += [
            (item.get("label", ""), [r]) for item, r in zip(axes.get("bars", []), self.bar_renderers, strict=False)
        ]
        labelled = [(label, renderers) for label, renderers in items if label]
        if labelled != self._legend_shown:
            self._legend_shown = labelled
            legend.items = [LegendItem(label=label, renderers=renderers) for label, renderers in labelled]


def _set_range(bokeh_range: Range1d | DataRange1d, limits: Sequence[float | None] | None) -> None:
    if (
        not isinstance(bokeh_range, Range1d)
        or not limits
        or len(limits) != 2
        or any(v is None for v in limits)
        or limits[0] == limits[1]
    ):
        return
    start, end = float(limits[0] or 0.0), float(limits[1] or 0.0)  # neither is None: checked above
    if (bokeh_range.start, bokeh_range.end) != (start, end):
        bokeh_range.update(start=start, end=end)


def _image_columns(image: dict[str, Any]) -> dict[str, list[Any]]:
    """One image glyph's columns: rows flipped so that row 0 is drawn at the lower y as Bokeh does."""
    values = np.array(image.get("data") or [[math.nan]], dtype=float)
    left, right, bottom, top = ([*_nan(image.get("extent")), 0.0, 1.0, 0.0, 1.0])[:4]
    first_row_y = top if image.get("origin", "upper") == "upper" else bottom
    if first_row_y > min(bottom, top):
        values = values[::-1]
    if left > right:
        values = values[:, ::-1]
    if values.ndim == 3:
        values = _rgba(values)
    return {
        "image": [values],
        "x": [min(left, right)],
        "y": [min(bottom, top)],
        "dw": [abs(right - left)],
        "dh": [abs(top - bottom)],
    }


def _rgba(values: np.ndarray) -> np.ndarray:
    """An RGB(A) float image in [0, 1] packed as the uint32 pixels ``image_rgba`` expects."""
    rows, cols, channels = values.shape
    if channels == 3:
        values = np.concatenate([values, np.ones((rows, cols, 1))], axis=2)
    pixels = (np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    return np.ascontiguousarray(pixels).view(np.uint32).reshape(rows, cols)


def _grid(axes: list[AxesData]) -> list[list[int]]:
    """Axes indexes in rows, top row first, left to right, from their figure positions."""

    def top(i: int) -> float:
        pos = axes[i].get("position") or [0, 0, 1, 1]
        return round(float((pos[1] or 0) + (pos[3] or 0)), 2)

    def left(i: int) -> float:
        pos = axes[i].get("position") or [0, 0, 1, 1]
        return float(pos[0] or 0)

    rows: dict[float, list[int]] = {}
    for i in range(len(axes)):
        rows.setdefault(top(i), []).append(i)
    return [sorted(rows[key], key=left) for key in sorted(rows, reverse=True)]


def _size(figure: FigureData, axes: AxesData, scale: float) -> tuple[int, int]:
    pos = axes.get("position") or [0.125, 0.11, 0.775, 0.77]
    width = float(figure.get("width") or 640) * float(pos[2] or 0.775) * 1.25 * scale
    height = float(figure.get("height") or 480) * float(pos[3] or 0.77) * 1.3 * scale
    return int(min(max(width, 200), 900)), int(min(max(height, 160), 700))


def build(figure: FigureData, scale: float = 1.0, stretch: bool = False) -> tuple[list[AxesPlot], BkLayout | None]:
    """Bokeh plots drawing ``figure``, one per axes, and the layout showing them (a grid for several, None
    for none); the live views and the standalone execution report (:mod:`deepforge_panel.components.execution_report`) share it.
    With ``stretch`` (the present view), the plots share the width of the page and their text reads across a room."""
    axes = figure.get("axes", [])
    plots = [AxesPlot(ax, *_size(figure, ax, scale)) for ax in axes]
    for plot, ax in zip(plots, axes, strict=False):
        plot.update(ax)
        if stretch:
            _enlarge(plot.figure)
    if not plots:
        return plots, None
    if len(plots) == 1:
        return plots, plots[0].figure
    rows = [[plots[i].figure for i in row] for row in _grid(axes)]
    width = max(len(row) for row in rows)
    return plots, gridplot(
        [row + [None] * (width - len(row)) for row in rows],
        merge_tools=True,
        sizing_mode="stretch_width" if stretch else None,
    )


def _enlarge(fig: Any) -> None:
    """Fill the width given, with titles, labels and ticks large enough to read on a projector."""
    fig.sizing_mode = "stretch_width"
    fig.title.text_font_size = "20px"
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.major_label_text_font_size = "15px"
        axis.axis_label_text_font_size = "17px"
    for legend in fig.legend:
        legend.label_text_font_size = "15px"


class FigureView(pn.viewable.Viewer):
    """One figure description shown as Bokeh plots (one per axes); :meth:`update` patches it in place."""

    def __init__(
        self, figure: FigureData | None = None, *, scale: float = 1.0, stretch: bool = False, **params: Any
    ) -> None:
        super().__init__(**params)
        self.scale = scale
        self.stretch = stretch
        """Whether the plots fill the width they are given (:func:`build`)."""
        self.axes: list[AxesPlot] = []
        self.rebuilds = 0
        """How often the Bokeh models were built anew (structure changes); tests watch it."""
        self._figure: FigureData | None = None
        self._structure: tuple[Any, ...] | None = None
        self._pending: FigureData | None = None
        """The newest figure waiting for its document's next tick, if any."""
        self.title = pn.pane.Markdown("", visible=False, margin=(0, 10))
        sizing = {"sizing_mode": "stretch_width"} if stretch else {}
        self.pane = pn.pane.Bokeh(None, **sizing)
        # As wide as its plots unless stretched: figures sit side by side in a FlexBox.
        self._layout = pn.Column(self.title, self.pane, **sizing)
        if figure is not None:
            self.update(figure)

    @property
    def model(self) -> BkLayout | None:
        """The Bokeh layout shown (a figure, or a grid of them)."""
        return self.pane.object

    def update(self, figure: FigureData) -> None:
        """Show ``figure``: patch the existing plots, or rebuild them when its structure changed."""
        if figure == self._figure:
            return
        self._figure = figure
        suptitle = figure.get("suptitle") or ""
        self.title.param.update(object=f"**{md_text(suptitle)}**", visible=bool(suptitle))
        shape = structure(figure)
        if shape != self._structure or self.model is None:
            self._pending = None
            self._build(figure, shape)
            return
        scheduled = self._pending is not None
        self._pending = figure
        if not scheduled:
            in_document(self.model, self._apply_pending)

    def _apply_pending(self) -> None:
        figure, self._pending = self._pending, None
        if figure is not None:
            self._patch(figure)

    def _patch(self, figure: FigureData) -> None:
        for plot, axes in zip(self.axes, figure.get("axes", []), strict=False):
            plot.update(axes)

    def _build(self, figure: FigureData, shape: tuple[Any, ...]) -> None:
        self.axes, self.pane.object = build(figure, self.scale, self.stretch)
        self._structure = shape
        self.rebuilds += 1

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
