"""figure_to_data: matplotlib figures described as plain JSON data."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from deepforge_panel.jobruntime.deepforge.figures import MAX_IMAGE_SIDE, figure_to_data


def describe(fig: Figure) -> dict[str, Any]:
    """The description, checked to survive strict JSON (no NaN) unchanged."""
    data = figure_to_data(fig)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    return data


def test_empty_figure() -> None:
    fig = Figure(figsize=(4, 3), dpi=100)
    assert describe(fig) == {"suptitle": "", "width": 400, "height": 300, "axes": []}


def test_line_plot() -> None:
    fig = Figure()
    fig.suptitle("training")
    ax = fig.add_subplot()
    y = np.array([3.0, 2.0, 1.5], dtype=np.float32)
    ax.plot(np.arange(3), y, "o--", color="red", alpha=0.5, lw=2, label="loss")
    ax.plot([0, 2], [1, 1])
    ax.set(title="Loss", xlabel="epoch", ylabel="value", xlim=(0, 2), yscale="log")
    ax.legend()
    ax.text(1, 2, "best")
    ax.text(0.5, 0.5, "centre", transform=ax.transAxes)

    data = describe(fig)
    assert data["suptitle"] == "training"
    [axes] = data["axes"]
    assert axes["position"] == pytest.approx([0.125, 0.11, 0.775, 0.77])
    shown = ("title", "xlabel", "ylabel", "xlim", "xscale", "yscale", "legend")
    assert {key: axes[key] for key in shown} == {
        "title": "Loss",
        "xlabel": "epoch",
        "ylabel": "value",
        "xlim": [0.0, 2.0],
        "xscale": "linear",
        "yscale": "log",
        "legend": True,
    }
    loss, flat = axes["lines"]
    assert loss == {
        "x": [0.0, 1.0, 2.0],
        "y": [3.0, 2.0, 1.5],
        "label": "loss",
        "color": "#ff0000",
        "alpha": 0.5,
        "linestyle": "--",
        "linewidth": 2.0,
        "marker": "o",
    }
    assert all(type(v) is float for v in loss["x"] + loss["y"])
    assert flat["label"] == "" and flat["marker"] == "" and flat["linestyle"] == "-"
    best, centre = axes["texts"]
    assert best == {"x": 1.0, "y": 2.0, "text": "best"}
    assert centre["text"] == "centre" and centre["x"] == pytest.approx(1.0)
    assert centre["y"] == pytest.approx(math.sqrt(axes["ylim"][0] * axes["ylim"][1]))


def test_scatter_with_per_point_colors_and_sizes() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.scatter([1, 2, 3], [4, 5, 6], c=["red", "green", "blue"], s=[10, 20, 30], label="points")
    ax.scatter([0, 1], [0, 1], c=[0.0, 1.0], cmap="viridis")
    ax.scatter([5], [5], color="black")

    named, mapped, single = describe(fig)["axes"][0]["scatter"]
    assert named == {
        "x": [1.0, 2.0, 3.0],
        "y": [4.0, 5.0, 6.0],
        "color": ["#ff0000", "#008000", "#0000ff"],
        "size": [10.0, 20.0, 30.0],
        "label": "points",
    }
    assert mapped["color"] == ["#440154", "#fde725"]
    assert mapped["label"] == ""
    assert single["color"] == "#000000" and single["size"] == 36.0


def test_bar_chart() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.bar([0, 1, 2], [1, 2, 3], color="C1", label="counts")
    ax.bar([0, 1, 2], [1, 1, 1], bottom=[1, 2, 3], width=0.5, color=["red", "blue", "red"])
    ax.barh([5], [4])

    counts, stacked, horizontal = describe(fig)["axes"][0]["bars"]
    assert counts == {
        "x": pytest.approx([-0.4, 0.6, 1.6]),
        "width": pytest.approx([0.8, 0.8, 0.8]),
        "bottom": [0.0, 0.0, 0.0],
        "height": [1.0, 2.0, 3.0],
        "color": "#ff7f0e",
        "label": "counts",
    }
    assert stacked["bottom"] == [1.0, 2.0, 3.0]
    assert stacked["color"] == ["#ff0000", "#0000ff", "#ff0000"]
    assert stacked["label"] == ""
    assert horizontal["x"] == [0.0] and horizontal["width"] == [4.0]
    assert horizontal["bottom"] == [pytest.approx(4.6)]
    assert horizontal["height"] == [pytest.approx(0.8)]


def test_imshow_is_downsampled_and_colorbar_skipped() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    values = np.arange(300 * 200).reshape(300, 200)
    fig.colorbar(ax.imshow(values, cmap="magma"))

    [axes] = describe(fig)["axes"]
    [image] = axes["images"]
    data = image["data"]
    assert len(data) <= MAX_IMAGE_SIDE and all(len(row) <= MAX_IMAGE_SIDE for row in data)
    assert (len(data), len(data[0])) == (100, 100)
    assert data[0][:2] == [0.0, 2.0] and data[1][0] == 600.0
    assert image["cmap"] == "magma"
    assert image["extent"] == [-0.5, 199.5, 299.5, -0.5]
    assert image["clim"] == [0.0, float(values.max())]
    assert image["origin"] == "upper"


def test_rgb_image_has_channels_in_unit_range() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.imshow(np.full((2, 3, 3), 255, dtype=np.uint8))

    [image] = describe(fig)["axes"][0]["images"]
    assert image["cmap"] == ""
    assert image["data"] == [[[1.0, 1.0, 1.0]] * 3] * 2


def test_nan_and_infinity_become_none() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1, 2, 3], [1.0, np.nan, np.inf, -np.inf])
    ax.scatter([np.nan, 1], [1, 2])
    ax.bar([0], [np.nan])
    ax.imshow(np.array([[np.nan, 1.0], [2.0, 3.0]]))

    [axes] = describe(fig)["axes"]
    assert axes["lines"][0]["y"] == [1.0, None, None, None]
    assert axes["scatter"][0]["x"] == [None, 1.0]
    assert axes["bars"][0]["height"] == [None]
    assert axes["images"][0]["data"] == [[None, 1.0], [2.0, 3.0]]


def test_axes_in_subfigures_are_placed_on_the_whole_figure() -> None:
    fig = Figure()
    left, right = fig.subfigures(1, 2)
    left.add_subplot().set_title("left")
    right.add_subplot().set_title("right")

    first, second = describe(fig)["axes"]
    assert (first["title"], second["title"]) == ("left", "right")
    assert first["position"][0] < 0.5 < second["position"][0]
    assert second["position"][2] == pytest.approx(first["position"][2])
    assert first["position"][2] < 0.5
