"""Describe a matplotlib Figure as plain JSON data that a Bokeh renderer redraws.

Jobs send this description instead of pixels so the workbench can show an
interactive plot (zoom, hover) of whatever the operation drew with matplotlib.
Every number is a plain float; NaN and infinities become None (JSON has no NaN).
Positions are in data coordinates, whatever transform the artist was drawn with.
Importing this module imports matplotlib and numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.text import Text
    from matplotlib.transforms import Transform

MAX_IMAGE_SIDE = 128
"""Images are strided down to at most this many rows and columns."""

_NO_STYLE = {"", " ", "None", "none"}


def figure_to_data(fig: Figure) -> dict[str, Any]:
    """A JSON-serializable description of *fig*; see the module docstring.

    Layout shape::

        {"suptitle", "width", "height" (pixels), "axes": [{
            "title", "xlabel", "ylabel", "xlim", "ylim", "xscale", "yscale",
            "legend", "position" ([left, bottom, width, height], figure fraction),
            "lines": [{"x", "y", "label", "color", "alpha", "linestyle", "linewidth", "marker"}],
            "scatter": [{"x", "y", "color", "size", "label"}],
            "bars": [{"x", "width", "bottom", "height", "color", "label"}],
            "images": [{"extent", "data", "cmap", "clim", "origin"}],
            "texts": [{"x", "y", "text"}]}]}

    Colorbar axes and invisible artists are left out.
    """
    width, height = fig.get_size_inches() * fig.dpi
    return {
        "suptitle": fig.get_suptitle(),
        "width": round(float(width)),
        "height": round(float(height)),
        "axes": [_axes_data(ax, fig) for ax in fig.get_axes() if ax.get_visible() and not _is_colorbar(ax)],
    }


def _axes_data(ax: Axes, root: Figure) -> dict[str, Any]:
    return {
        "title": _title(ax),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "xlim": _floats(ax.get_xlim()),
        "ylim": _floats(ax.get_ylim()),
        "xscale": ax.get_xscale(),
        "yscale": ax.get_yscale(),
        "legend": ax.get_legend() is not None,
        "position": _position(ax, root),
        "lines": [_line(line, ax) for line in ax.get_lines() if line.get_visible()],
        "scatter": [
            _scatter(coll, ax) for coll in ax.collections if isinstance(coll, PathCollection) and coll.get_visible()
        ],
        "bars": [_bars(cont) for cont in ax.containers if isinstance(cont, BarContainer)],
        "images": [_image(im) for im in ax.get_images() if im.get_visible() and im.get_array() is not None],
        "texts": [_text(text, ax) for text in ax.texts if text.get_visible()],
    }


def _line(line: Line2D, ax: Axes) -> dict[str, Any]:
    """Points of a Line2D; ``linestyle``/``marker`` are matplotlib codes, "" for none."""
    xy = _to_data(line.get_transform(), ax, np.asarray(line.get_xydata(), dtype=float))
    rgba = mcolors.to_rgba(line.get_color(), line.get_alpha())
    return {
        "x": _floats(xy[:, 0]),
        "y": _floats(xy[:, 1]),
        "label": _label(line.get_label()),
        "color": mcolors.to_hex(rgba),
        "alpha": float(rgba[3]),
        "linestyle": _style(line.get_linestyle()),
        "linewidth": float(line.get_linewidth()),
        "marker": _style(line.get_marker()),
    }


def _scatter(coll: PathCollection, ax: Axes) -> dict[str, Any]:
    """Points of ``ax.scatter``; ``size`` is matplotlib's marker area in points squared."""
    coll.update_scalarmappable()
    offsets: np.ndarray = np.ma.asarray(coll.get_offsets(), dtype=float).filled(np.nan).reshape(-1, 2)
    xy = _to_data(coll.get_offset_transform(), ax, offsets)
    faces = np.asarray(coll.get_facecolor(), dtype=float).reshape(-1, 4)  # get_facecolors() is its alias
    if len(faces) == 0:
        faces = np.asarray(coll.get_edgecolor(), dtype=float).reshape(-1, 4)
    return {
        "x": _floats(xy[:, 0]),
        "y": _floats(xy[:, 1]),
        "color": _one_or_many([mcolors.to_hex(tuple(c)) for c in faces.tolist()], ""),
        "size": _one_or_many(_floats(coll.get_sizes()), None),
        "label": _label(coll.get_label()),
    }


def _bars(container: BarContainer) -> dict[str, Any]:
    """One bar series; each bar is a rectangle from (x, bottom) spanning width by height."""
    patches = container.patches
    return {
        "x": _floats([p.get_x() for p in patches]),
        "width": _floats([p.get_width() for p in patches]),
        "bottom": _floats([p.get_y() for p in patches]),
        "height": _floats([p.get_height() for p in patches]),
        "color": _one_or_many([mcolors.to_hex(p.get_facecolor()) for p in patches], ""),
        "label": _label(container.get_label()),
    }


def _image(im: AxesImage) -> dict[str, Any]:
    """A downsampled image: 2-D values to colour with ``cmap`` between ``clim``.

    RGB(A) images have a 3-D ``data`` (rows, columns, channels in [0, 1]) and no cmap.
    """
    array: np.ma.MaskedArray = np.ma.asarray(im.get_array())
    rows, cols = array.shape[:2]
    array = array[:: _stride(rows), :: _stride(cols)]
    rgb = array.ndim == 3
    values = array.astype(float)
    if rgb and np.issubdtype(array.dtype, np.integer):
        values = values / 255.0
    return {
        "extent": _floats(im.get_extent()),
        "data": _nested(np.ma.filled(values, np.nan)),
        "cmap": "" if rgb else im.get_cmap().name,
        "clim": [_number(v) for v in im.get_clim()],
        "origin": im.origin,
    }


def _text(text: Text, ax: Axes) -> dict[str, Any]:
    x, y = text.get_position()
    point = np.array([[text.convert_xunits(x), text.convert_yunits(y)]], dtype=float)
    xy = _to_data(text.get_transform(), ax, point)
    return {"x": _number(xy[0, 0]), "y": _number(xy[0, 1]), "text": text.get_text()}


def _stride(length: int) -> int:
    """The step that keeps at most `MAX_IMAGE_SIDE` of *length* samples."""
    return max(1, math.ceil(length / MAX_IMAGE_SIDE))


def _to_data(transform: Transform, ax: Axes, xy: np.ndarray) -> np.ndarray:
    """*xy* given in *transform*'s coordinates, expressed in *ax*'s data coordinates."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if transform is ax.transData or len(xy) == 0:
        return xy
    return (transform - ax.transData).transform(xy)


def _position(ax: Axes, root: Figure) -> list[float | None]:
    """The axes box as a fraction of the root figure, also for axes in subfigures."""
    box = ax.get_position()
    parent = ax.figure
    if parent is not root:
        box = box.transformed(parent.transSubfigure + root.transFigure.inverted())
    return _floats(box.bounds)


def _title(ax: Axes) -> str:
    """The centre title, else the left or right one."""
    return next((t for t in (ax.get_title(loc) for loc in ("center", "left", "right")) if t), "")


def _is_colorbar(ax: Axes) -> bool:
    return ax.get_label() == "<colorbar>" or getattr(ax, "_colorbar", None) is not None


def _label(label: object) -> str:
    """Matplotlib's private labels (``_child0``, ``_nolegend_``) read as no label."""
    text = "" if label is None else str(label)
    return "" if text.startswith("_") else text


def _style(code: object) -> str:
    text = "" if code is None else str(code)
    return "" if text in _NO_STYLE else text


def _one_or_many(values: list[Any], empty: Any) -> Any:
    """A single value when all points share it, else the per-point list."""
    if not values:
        return empty
    return values[0] if all(v == values[0] for v in values) else values


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _floats(values: Iterable[Any] | np.ndarray) -> list[float | None]:
    return _nested(np.ma.asarray(values, dtype=float).filled(np.nan).ravel())


def _nested(array: np.ndarray) -> list[Any]:
    """*array* as nested lists of plain floats, None where not finite."""
    objects = array.astype(object)
    objects[~np.isfinite(array)] = None
    return objects.tolist()
