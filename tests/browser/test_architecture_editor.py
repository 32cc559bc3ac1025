"""The architecture editor in Chromium: build a small network, see its shapes, then a misfit on the layer at fault."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT, drag, node, open_project

pytestmark = pytest.mark.browser
SHAPES = 90_000
"""The first answer waits for the shape worker to import TensorFlow."""


def catalog_add(page: Any, layer_type: str) -> None:
    page.get_by_placeholder("search layers, e.g. conv").fill(layer_type)
    catalog = page.locator("select", has=page.locator(f"option[value='{layer_type}']"))
    catalog.select_option(layer_type)
    page.get_by_role("button", name="Add layer").click()


def new_architecture(page: Any, name: str) -> None:
    """In the Architectures tab, create architecture ``name`` and wait until the editor shows it (the example
    project has architectures of its own: a layer added before that would land in one of those)."""
    field = page.get_by_placeholder("new architecture name")
    field.fill(name)
    field.press("Enter")
    picker = page.locator(".bk-input-group", has=page.get_by_text("Architecture", exact=True)).locator("select")
    expect(picker.locator("option:checked")).to_have_text(name, timeout=TIMEOUT)


def set_arg(page: Any, label: str, value: str) -> None:
    group = page.locator(".bk-input-group", has=page.get_by_text(label, exact=True))
    field = group.locator("input")
    field.fill(value)
    field.press("Enter")


def connect(page: Any, src: str, dst: str) -> None:
    drag(
        page,
        node(page, src).locator(".react-flow__handle.source[data-handleid='out']"),
        node(page, dst).locator(".react-flow__handle.target[data-handleid='in']"),
    )


def test_shapes_and_a_misfit(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="Architectures").click()
    new_architecture(page, "tiny")

    catalog_add(page, "InputLayer")
    node(page, "input").wait_for(timeout=TIMEOUT)
    set_arg(page, "shape", "8, 8, 1")
    expect(node(page, "input")).to_contain_text("(None, 8, 8, 1)", timeout=SHAPES)

    catalog_add(page, "Conv2D")
    conv = node(page, "conv2d")
    conv.wait_for(timeout=TIMEOUT)
    set_arg(page, "filters *", "4")
    set_arg(page, "kernel_size *", "3")
    expect(conv).to_contain_text("no input is connected", timeout=TIMEOUT)
    connect(page, "input", "conv2d")
    expect(conv).to_contain_text("(None, 6, 6, 4)", timeout=TIMEOUT)
    page.screenshot(path=screenshots / "architecture.png")

    node(page, "input").click()
    catalog_add(page, "InputLayer")
    side = node(page, "input_1")
    side.wait_for(timeout=TIMEOUT)
    set_arg(page, "shape", "4")
    node(page, "conv2d").click()
    catalog_add(page, "Concatenate")
    joined = node(page, "concatenate")
    joined.wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Fit View").click()
    connect(page, "conv2d", "concatenate")
    expect(joined).to_contain_text("(None, 6, 6, 4)", timeout=TIMEOUT)
    connect(page, "input_1", "concatenate")
    error = joined.locator(".df-error")
    expect(error).to_contain_text("Concatenate", timeout=TIMEOUT)
    expect(error).to_contain_text("(None, 4)")
    expect(node(page, "conv2d").locator(".df-error")).to_have_count(0)
    page.screenshot(path=screenshots / "architecture-misfit.png")


def test_a_run_with_a_shape_misfit_is_refused_with_a_link_to_the_layer(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    from deepforge_panel.crdt import Home
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView
    from deepforge_panel.project import Project

    store = Home(server.home).open(project)
    try:
        views = ArchitecturesView(Project.open(store))
        cnn = next(a for a in views.all() if a.name == "digits-cnn")
        views.set_args(cnn.id, cnn.layer("conv1").id, {"kernel_size": 20, "padding": "valid"})
    finally:
        store.close()
    page = open_project(new_tab(), server, project)
    page.locator("select").first.select_option(label="train-cnn")
    expect(node(page, "train")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="▶ Run").click()
    message = page.locator(".bk-panel-models-markup-HTML, .alert", has_text="cannot run").first
    expect(message).to_contain_text("layer conv1 (Conv2D)", timeout=SHAPES)
    link = page.get_by_role("button", name="Show layer conv1 of digits-cnn")
    expect(link).to_be_visible()
    page.screenshot(path=screenshots / "run-refused-misfit.png")
    assert page.locator(".bk-tab.bk-active", has_text="Pipelines").count() == 1, (
        "the run was refused: no Executions tab"
    )
    link.click()
    expect(page.locator(".bk-tab.bk-active", has_text="Architectures")).to_have_count(1, timeout=TIMEOUT)
    conv1 = node(page, "conv1")
    expect(conv1).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)
    expect(conv1.locator(".df-error")).to_contain_text("output size would be zero or negative", timeout=SHAPES)
    page.screenshot(path=screenshots / "run-refused-layer-shown.png")


def test_import_a_model_file(server: Any, project: str, new_tab: Any, screenshots: Path, tmp_path: Path) -> None:
    """Import model: a .keras upload with a shared layer and a nested model shows with shapes, read-only where kept."""
    import keras

    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(inner_in, keras.layers.Dense(3, name="i1")(inner_in), name="inner")
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = keras.layers.Dense(4, name="shared")
    added = keras.layers.Add(name="added")([inner(shared(a)), inner(shared(b))])
    keras.Model([a, b], added, name="uploaded").save(tmp_path / "uploaded.keras")

    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="Architectures").click()
    page.locator("input[type='file']:not([data-df-upload])").set_input_files(
        tmp_path / "uploaded.keras"
    )  # not Artifacts
    page.get_by_role("button", name="Import model").click()
    picker = page.locator(".bk-input-group", has=page.get_by_text("Architecture", exact=True)).locator("select")
    expect(picker.locator("option:checked")).to_have_text("uploaded", timeout=SHAPES)
    expect(node(page, "inner")).to_contain_text("read-only: a nested model", timeout=TIMEOUT)
    expect(node(page, "shared_call2")).to_contain_text("shared: calls shared again")
    expect(node(page, "added")).to_contain_text("(None, 3)", timeout=SHAPES)
    expect(node(page, "inner_call2")).to_contain_text("(None, 3)")
    page.screenshot(path=screenshots / "architecture-imported.png")
