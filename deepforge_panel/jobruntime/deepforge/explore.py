"""``explorer`` in every notebook cell: a 2-D embedding of a data set, drawn under the cell as a scatter.

>>> explorer.show(images, labels=digits.target, name="digits")            # t-SNE, colored by label
>>> explorer.show(table, labels="species", predictions=predicted, method="umap")

The embedding is computed here, in the session (next to the data, never in the workbench's server): t-SNE
from scikit-learn, UMAP where ``umap-learn`` is installed, PCA when asked. The workbench draws it with
hover, zoom and a lasso; a lasso selection saved from the page runs ``explorer.take(name, rows)`` here
and stores the selected rows as a new artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

MAX_POINTS = 5000
"""The most points one embedding shows; past that, show a sample (``data[:5000]``)."""
METHODS = ("tsne", "umap", "pca")


class ExplorerError(ValueError):
    """Data the explorer cannot show; the message says why."""


def take(data: Any, rows: Sequence[int]) -> Any:
    """The ``rows`` of ``data``, in order: a table's rows (``iloc``), an array's first-axis items, or for a data
    set ``{"x": ..., "y": ..., ...}`` those rows of each of its parts with a row per point (others kept whole)."""
    import numpy as np

    rows = [int(row) for row in rows]
    if isinstance(data, dict) and "x" in data:
        count = len(data["x"])
        return {key: take(value, rows) if _rows(value) == count else value for key, value in data.items()}
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    return np.asarray(data)[rows]


def _rows(value: Any) -> int | None:
    try:
        return len(value) if not isinstance(value, str | bytes | dict) else None
    except TypeError:
        return None


def _features(data: Any) -> Any:
    """``data`` as a float matrix, one row per point (a table's numeric columns; an array's items flattened)."""
    import numpy as np

    if hasattr(data, "select_dtypes"):
        data = data.select_dtypes("number").to_numpy()
    matrix = np.asarray(data, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    return matrix.reshape(len(matrix), -1)


def _column(values: Any, data: Any, count: int, what: str) -> list[str] | None:
    """``values`` (a sequence, or a column name of a table) as one text per point."""
    if values is None:
        return None
    if isinstance(values, str):
        if not hasattr(data, "columns") or values not in data.columns:
            raise ExplorerError(f"{what} {values!r} is not a column of the data")
        values = data[values]
    items = list(values.tolist() if hasattr(values, "tolist") else values)
    if len(items) != count:
        raise ExplorerError(f"{what} has {len(items)} values for {count} points")
    return [str(item) for item in items]


def embed(matrix: Any, method: str, seed: int) -> tuple[Any, str]:
    """Two coordinates per row of ``matrix`` and the method's name as shown."""
    count = len(matrix)
    note = ""
    if method == "umap":
        try:
            import umap
        except ImportError:
            method, note = "tsne", " (umap-learn is not installed)"
        else:
            return umap.UMAP(n_components=2, random_state=seed).fit_transform(matrix), "UMAP"
    if method == "pca" or count < 5:
        import numpy as np
        from sklearn.decomposition import PCA

        points = PCA(n_components=min(2, matrix.shape[1]), random_state=seed).fit_transform(matrix)
        if points.shape[1] == 1:
            points = np.hstack([points, np.zeros_like(points)])
        return points, "PCA" + note
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (count - 1) / 3)
    points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(matrix)
    return points, "t-SNE" + note


class Explorer:
    """Shows embeddings under the running cell (``emit``), and keeps each shown data set for :meth:`take`."""

    def __init__(self, emit: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._emit = emit
        self.shown: dict[str, Any] = {}
        """Each data set shown, by name: what a selection takes its rows from."""

    def show(
        self,
        data: Any,
        labels: Any = None,
        predictions: Any = None,
        *,
        name: str = "data",
        method: str = "tsne",
        seed: int = 0,
    ) -> None:
        """Draw a 2-D embedding of ``data`` (rows are points; a data set ``{"x", "y"}`` is its ``x`` labelled by
        its ``y``) under the cell, colored by ``labels`` (or by ``predictions``, or by whether each prediction is
        wrong); ``name`` is how a selection refers to it."""
        if method not in METHODS:
            raise ExplorerError(f"method is one of {', '.join(METHODS)}, not {method!r}")
        self.shown[str(name)] = data
        if self._emit is None:  # recreated outside a session: nothing to draw, only rows to take
            return
        if isinstance(data, dict) and "x" in data:  # a data set: points from "x", labelled by "y"
            labels = data.get("y") if labels is None else labels
            data = data["x"]
        matrix = _features(data)
        count = len(matrix)
        if count == 0:
            raise ExplorerError("there is nothing to show: the data has no rows")
        if count > MAX_POINTS:
            raise ExplorerError(f"the explorer shows at most {MAX_POINTS} points, not {count}: show a sample")
        columns: dict[str, list[str]] = {}
        for key, values, what in (("label", labels, "labels"), ("prediction", predictions, "predictions")):
            column = _column(values, data, count, what)
            if column is not None:
                columns[key] = column
        if "label" in columns and "prediction" in columns:
            pairs = zip(columns["prediction"], columns["label"], strict=True)
            columns["error"] = ["wrong" if predicted != label else "right" for predicted, label in pairs]
        points, shown = embed(matrix, method, seed)
        self._emit(
            {
                "type": "embedding",
                "name": str(name),
                "method": shown,
                "points": {
                    "x": [round(float(v), 4) for v in points[:, 0]],
                    "y": [round(float(v), 4) for v in points[:, 1]],
                    "columns": columns,
                },
            }
        )

    def take(self, name: str, rows: Sequence[int]) -> Any:
        """The ``rows`` of the data set shown as ``name``."""
        if name not in self.shown:
            known = ", ".join(sorted(self.shown)) or "none yet"
            raise ExplorerError(f"no data shown as {name!r} in this session (shown: {known}); run its cell again")
        return take(self.shown[name], rows)

    def __repr__(self) -> str:
        return "explorer (show(data, labels=None, predictions=None, name='data', method='tsne'), take(name, rows))"
