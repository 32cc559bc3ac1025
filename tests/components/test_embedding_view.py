"""The data explorer's view: points colored by a column, hover fields, a selection handed to be saved."""

from __future__ import annotations

import asyncio
from typing import Any

from bokeh.models import HoverTool

from deepforge_panel.components.embedding_view import ERROR_COLORS, NO_COLOR, EmbeddingView, colors_for
from deepforge_panel.components.notebook_outputs import CellOutputs


def _output(labels: list[str], predictions: list[str] | None = None) -> dict[str, Any]:
    columns: dict[str, list[str]] = {}
    if predictions is not None:  # in the order the document keeps them: sorted
        columns["error"] = ["wrong" if p != t else "right" for p, t in zip(predictions, labels, strict=True)]
    columns["label"] = labels
    if predictions is not None:
        columns["prediction"] = predictions
    count = len(labels)
    return {
        "type": "embedding",
        "name": "digits",
        "method": "t-SNE",
        "points": {"x": [float(i) for i in range(count)], "y": [0.5] * count, "columns": columns},
    }


def test_points_are_colored_by_label_and_hover_tells_each_column() -> None:
    view = EmbeddingView(_output(["10", "2", "2", "<b>"], ["10", "2", "3", "<b>"]))
    assert len(view.source.data["x"]) == 4 and view.source.data["row"] == [0, 1, 2, 3]
    assert view.color_by.options == ["label", "prediction", "error", NO_COLOR] and view.color_by.value == "label"
    colors = view.source.data["color"]
    assert colors[1] == colors[2] != colors[0], "one color per label"
    assert view.legend.object.index(">2<") < view.legend.object.index(">10<"), "numbers in order, not as text"
    assert "&lt;b&gt;" in view.legend.object and "<b>" not in view.legend.object.replace("<b>", "", 0)
    assert "4 points, t-SNE embedding" in view.title.object
    tooltips = dict(view.figure.select_one(HoverTool).tooltips)
    assert tooltips == {"row": "@row", "label": "@label", "prediction": "@prediction", "error": "@error"}
    view.color_by.value = "error"
    assert (
        view.source.data["color"][2] == ERROR_COLORS["wrong"] and view.source.data["color"][1] == ERROR_COLORS["right"]
    )
    view.color_by.value = NO_COLOR
    assert len(set(view.source.data["color"])) == 1 and view.legend.object == ""


def test_a_selection_is_handed_over_with_its_name() -> None:
    saved: list[tuple[list[int], str]] = []

    async def save(rows: list[int], name: str) -> None:
        saved.append((rows, name))

    view = EmbeddingView(_output(["a", "b", "c"]), save)
    assert view.save_button.disabled
    view.source.selected.indices = [2, 0]
    assert not view.save_button.disabled and "**2** points selected" in view.selected.object
    asyncio.run(view.save_selection())
    assert saved == [] and "name first" in view.selected.object
    view.artifact_name.value = "corner"
    asyncio.run(view.save_selection())
    assert saved == [([0, 2], "corner")]
    view.update(_output(["a", "b", "c", "d"]))
    assert view.rows == [] and view.save_button.disabled, "new points: the old selection is gone"


def test_a_cell_shows_its_embedding_and_saves_from_it_under_its_name() -> None:
    calls: list[tuple[str, list[int], str]] = []

    async def save(shown_as: str, rows: list[int], name: str) -> None:
        calls.append((shown_as, rows, name))

    outputs = CellOutputs(save)
    outputs.show([{"type": "stream", "name": "stdout", "text": "embedding...\n"}, _output(["a", "b"])])
    (explorer,) = outputs.explorers
    outputs.show([{"type": "stream", "name": "stdout", "text": "embedding...\n"}, _output(["a", "b", "a"])])
    assert outputs.explorers == [explorer] and len(explorer.source.data["x"]) == 3, "updated in place"
    explorer.source.selected.indices = [1]
    explorer.artifact_name.value = "one"
    asyncio.run(explorer.save_selection())
    assert calls == [("digits", [1], "one")]
    assert colors_for(["x", "y"], "label")[1].keys() == {"x", "y"}
