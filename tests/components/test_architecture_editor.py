"""The architecture editor as a projection of the document, driven by the messages the browser would send."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import panel as pn
import pytest

from deepforge_panel.components.architecture_editor import ArchitectureEditor, search_catalog
from deepforge_panel.components.session import Session
from deepforge_panel.errors import Place
from deepforge_panel.hub import ProjectHub
from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.libraries.keras.shapes import ShapeChecker
from tests.conftest import async_wait_until

ROOT = Path(__file__).resolve().parents[2]


def _editor(session: Session, checker: ShapeChecker, architecture: str | None = None) -> ArchitectureEditor:
    return ArchitectureEditor(project=session.project, session=session, checker=checker, architecture=architecture)


@pytest.fixture
def empty_session(hub: ProjectHub) -> Session:
    hub.workspace.create("empty").store.close()
    return Session(hub=hub, project=hub.project("empty").as_user("me"))


def _body(editor: ArchitectureEditor, name_or_id: str) -> str:
    node = next(n for n in editor.flow.nodes if name_or_id in (n["label"], n["id"]))
    return node["view"].object


def _widgets(editor: ArchitectureEditor) -> dict[str, pn.widgets.Widget]:
    return editor.arg_widgets


def _connect(editor: ArchitectureEditor, src: str, dst: str) -> None:
    editor.flow._process_msg(
        {
            "type": "edge_added",
            "edge": {"id": "tmp", "source": src, "target": dst, "sourceHandle": "out", "targetHandle": "in"},
        }
    )


def test_build_a_network_from_the_catalog_and_see_its_shapes(
    empty_session: Session, checker: ShapeChecker, runner: asyncio.Runner
) -> None:
    editor = _editor(empty_session, checker)
    assert editor.empty.visible and "No architectures yet" in editor.empty.object
    editor.new_name.value = "cnn"
    editor._create()
    assert not editor.empty.visible and editor.architecture is not None
    editor.search.value_input = "conv2"
    assert (
        next(iter(editor.catalog.options.values())) == "Conv2D" and "Conv2DTranspose" in editor.catalog.options.values()
    )
    assert any(label.startswith("Conv2D — 2D convolution") for label in editor.catalog.options)

    editor.catalog.value = "InputLayer"
    editor.add_button.clicks += 1
    image = editor.layer
    _widgets(editor)["shape"].value = "8, 8, 1"
    editor.catalog.value = "Conv2D"
    editor.add_button.clicks += 1
    conv = editor.layer
    widgets = _widgets(editor)
    widgets["filters"].value = 4
    widgets["kernel_size"].value = "3"
    view = ArchitecturesView(empty_session.project)
    arch = view.get(editor.architecture)
    assert arch.layers[image].args == {"shape": [8, 8, 1]}
    assert arch.layers[conv].args == {"filters": 4, "kernel_size": 3}
    assert arch.layers[conv].x > arch.layers[image].x, "a new layer goes right of the selected one"

    _connect(editor, image, conv)
    arch = view.get(editor.architecture)
    assert [(c.src, c.dst) for c in arch.connections.values()] == [(image, conv)]
    assert {e["id"] for e in editor.flow.edges} == set(arch.connections), "the graph shows the document's edge ids"
    assert "shape …" in _body(editor, conv), "no answer yet"

    shapes = runner.run(editor.check_shapes())
    assert shapes[conv] == {"shape": [None, 6, 6, 4]}
    assert "(None, 6, 6, 4)" in _body(editor, conv) and "(None, 8, 8, 1)" in _body(editor, image)
    assert pn.panel(editor).get_root() is not None


def test_a_misfit_is_shown_in_red_on_the_layer_at_fault(
    digits_session: Session, checker: ShapeChecker, runner: asyncio.Runner
) -> None:
    view = ArchitecturesView(digits_session.project)
    arch = view.create("misfit")
    view.add_layer(arch, "InputLayer", {"shape": [4]}, name="flat_in")
    view.add_layer(arch, "InputLayer", {"shape": [4, 4]}, name="square_in")
    view.add_layer(arch, "Concatenate", name="joined")
    view.add_layer(arch, "Dense", {"units": 2}, name="head")
    editor = _editor(digits_session, checker, arch)
    layers = {layer.name: layer.id for layer in view.get(arch).layers.values()}
    for src, dst in (("flat_in", "joined"), ("square_in", "joined"), ("joined", "head")):
        _connect(editor, layers[src], layers[dst])
    assert sorted(e["label"] or "" for e in editor.flow.edges if e["target"] == layers["joined"]) == ["1", "2"]
    runner.run(editor.check_shapes())
    assert "df-error" in _body(editor, "joined") and "Concatenate" in _body(editor, "joined")
    assert "df-blocked" in _body(editor, "head") and "input unavailable: joined failed" in _body(editor, "head")
    assert "(None, 4, 4)" in _body(editor, "square_in")


def test_edits_check_shapes_by_themselves_on_a_running_loop(
    digits_session: Session, checker: ShapeChecker, runner: asyncio.Runner
) -> None:
    view = ArchitecturesView(digits_session.project)
    arch = view.create("live")
    view.add_layer(arch, "InputLayer", {"shape": [16]}, name="features")
    view.add_layer(arch, "Dense", {"units": 8}, name="hidden")
    view.connect(arch, "features", "hidden")
    editor = _editor(digits_session, checker, arch)
    assert not editor.__panel__().objects, "laid out only once its tab is in front"
    digits_session.tab = "Architectures"
    assert editor.__panel__().objects

    async def edit_then_wait() -> None:
        view.set_args(arch, "hidden", {"units": 5})
        await async_wait_until(lambda: "(None, 5)" in _body(editor, "hidden"), timeout=60)

    runner.run(edit_then_wait())


def test_a_stale_answer_is_dropped(digits_session: Session, checker: ShapeChecker, runner: asyncio.Runner) -> None:
    view = ArchitecturesView(digits_session.project)
    arch = view.create("stale")
    view.add_layer(arch, "InputLayer", {"shape": [16]}, name="features")
    view.add_layer(arch, "Dense", {"units": 8}, name="hidden")
    view.connect(arch, "features", "hidden")
    editor = _editor(digits_session, checker, arch)

    async def two_checks() -> tuple[object, object]:
        older = asyncio.ensure_future(editor.check_shapes())
        await asyncio.sleep(0)
        view.set_args(arch, "hidden", {"units": 3})
        return tuple(await asyncio.gather(older, editor.check_shapes()))

    older, newer = runner.run(two_checks())
    assert older is None and newer is not None
    assert "(None, 3)" in _body(editor, "hidden")


def test_argument_widgets_fit_their_types_both_ways(digits_session: Session, checker: ShapeChecker) -> None:
    view = ArchitecturesView(digits_session.project)
    arch = view.create("typed")
    conv = view.add_layer(arch, "Conv2D", {"filters": 8, "kernel_size": [3, 3]}, name="conv")
    view.set_function(arch, "halfrelu", "def halfrelu(x):\n    return keras.ops.relu(x) * 0.5\n")
    editor = _editor(digits_session, checker, arch)
    editor.flow._process_msg({"type": "selection_changed", "nodes": [conv], "edges": []})
    assert editor.layer == conv and editor.layer_name.value == "conv"
    assert "2D convolution" in editor.layer_title.object
    widgets = _widgets(editor)
    assert isinstance(widgets["filters"], pn.widgets.IntInput) and widgets["filters"].value == 8
    assert isinstance(widgets["kernel_size"], pn.widgets.TextInput) and widgets["kernel_size"].value == "3, 3"
    assert isinstance(widgets["use_bias"], pn.widgets.Checkbox) and widgets["use_bias"].value is True
    assert isinstance(widgets["padding"], pn.widgets.Select) and set(widgets["padding"].options.values()) >= {
        "valid",
        "same",
    }
    activation = widgets["activation"]
    assert isinstance(activation, pn.widgets.Select)
    assert {"relu", "softmax", "halfrelu", None} <= set(activation.options.values())
    assert all(w.description for w in (widgets["filters"], widgets["kernel_size"], activation)), "docs as tooltips"
    activation.value = "halfrelu"
    widgets["padding"].value = "same"
    assert view.get(arch).layer("conv").args == {
        "filters": 8,
        "kernel_size": [3, 3],
        "activation": "halfrelu",
        "padding": "same",
    }
    digits_session.project.as_user("peer")
    ArchitecturesView(digits_session.project.as_user("peer")).set_args(arch, "conv", {"filters": 32})
    assert widgets["filters"].value == 32, "a peer's edit reaches the widget"
    editor.layer_name.value = "features"
    assert view.get(arch).layers[conv].name == "features"
    assert any(n["label"] == "features" for n in editor.flow.nodes)


def test_refused_edits_show_the_reason_and_change_nothing(digits_session: Session, checker: ShapeChecker) -> None:
    view = ArchitecturesView(digits_session.project)
    arch = view.create("refusals")
    image = view.add_layer(arch, "InputLayer", {"shape": [4]}, name="image")
    dense = view.add_layer(arch, "Dense", {"units": 2}, name="dense")
    view.connect(arch, image, dense)
    editor = _editor(digits_session, checker, arch)
    before = digits_session.project.doc.get_update()
    _connect(editor, dense, image)
    assert editor.message.visible and "image is an input" in editor.message.object
    assert digits_session.project.doc.get_update() == before
    assert "tmp" not in {e["id"] for e in editor.flow.edges}, "the refused edge disappears from the graph"

    editor.flow._process_msg({"type": "selection_changed", "nodes": [dense], "edges": []})
    editor.message.visible = False
    _widgets(editor)["units"].value = None
    assert editor.message.visible and "dense.units" in editor.message.object
    assert view.get(arch).layers[dense].args["units"] == 2
    assert _widgets(editor)["units"].value == 2, "the widget shows the document again"

    editor.function_name.value = "bad"
    editor.function_code.value = "def bad(x):\n    return x +\n"
    editor._save_function()
    assert editor.message.visible and "function 'bad', line 2" in editor.message.object
    editor.function_name.value = "leaky"
    editor.function_code.value = "def leaky(x):\n    return keras.ops.leaky_relu(x)\n"
    editor._save_function()
    assert not editor.message.visible and "leaky" in view.get(arch).functions
    assert editor.function_select.value == "leaky"


def test_delete_and_move_layers(digits_session: Session, checker: ShapeChecker) -> None:
    view = ArchitecturesView(digits_session.project)
    arch = view.create("moves")
    image = view.add_layer(arch, "InputLayer", {"shape": [4]}, name="image")
    dense = view.add_layer(arch, "Dense", {"units": 2}, name="dense")
    view.connect(arch, image, dense)
    editor = _editor(digits_session, checker, arch)
    editor.flow._process_msg({"type": "node_moved", "node_id": dense, "position": {"x": 300, "y": 200}})
    assert (view.get(arch).layers[dense].x, view.get(arch).layers[dense].y) == (300.0, 200.0)
    editor.flow._process_msg({"type": "edge_deleted", "edge_id": next(iter(view.get(arch).connections))})
    assert view.get(arch).connections == {}
    editor.flow._process_msg({"type": "node_deleted", "node_id": dense})
    assert set(view.get(arch).layers) == {image} and [n["id"] for n in editor.flow.nodes] == [image]


def test_catalog_search_matches_names_then_docs() -> None:
    names = list(search_catalog("dense").values())
    assert names[0] == "Dense"
    assert "Dense" in search_catalog("densely-connected").values()
    assert len(search_catalog("")) > 100


def test_importing_the_editor_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "import deepforge_panel.components.architecture_editor\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('heavy:', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout


def test_a_run_with_a_shape_misfit_is_refused_at_once_with_a_link_to_the_layer(
    digits_session: Session, checker: ShapeChecker, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deepforge_panel.libraries.keras import shapes

    monkeypatch.setattr(shapes, "_shared", checker)  # the server's checker is this module's warm one
    project = digits_session.project
    views = ArchitecturesView(project)
    cnn = next(a for a in views.all() if a.name == "digits-cnn")
    conv1 = cnn.layer("conv1")
    views.set_args(cnn.id, conv1.id, {"kernel_size": 20, "padding": "valid"})  # larger than the 8x8 input
    commits, executions = len(project.log()), len(project.map("executions"))

    assert runner.run(digits_session.run_checked("train-cnn")) is None
    assert len(project.log()) == commits and len(project.map("executions")) == executions, "nothing ran"
    message = digits_session.message
    assert "pipeline 'train-cnn' cannot run" in message
    assert "train: reference 'architecture': architecture 'digits-cnn', layer conv1 (Conv2D):" in message
    assert "conv2" not in message, "a layer blocked by conv1 is not reported: its cause is"
    assert digits_session.fault == Place("architectures", cnn.id, conv1.id, "layer conv1 of digits-cnn")

    editor = _editor(digits_session, checker)
    digits_session.show_fault()
    assert digits_session.tab == "Architectures"
    assert editor.architecture == cnn.id and editor.layer == conv1.id

    digits_session.message = "something else"
    assert digits_session.fault is None, "a new message drops the old link"


def test_a_code_error_links_to_its_node(digits_session: Session) -> None:
    project = digits_session.project
    pipeline = project.pipelines.find("train-cnn")
    train = pipeline.node("train")
    project.operations.set_code(train.operation, "class TrainArchitecture:\n    def execute(self\n")
    assert digits_session.run("train-cnn") is None
    assert digits_session.fault == Place("pipelines", pipeline.id, train.id, "node train of train-cnn")
    digits_session.tab = "History"
    digits_session.show_fault()
    assert (digits_session.tab, digits_session.pipeline, digits_session.node) == ("Pipelines", pipeline.id, train.id)


def test_an_imported_model_shows_shapes_and_what_it_cannot_edit_read_only(
    digits_session: Session, checker: ShapeChecker, runner: asyncio.Runner
) -> None:
    """Shared layers, a nested model with two outputs, nested-tuple padding: every node has its shape."""
    import keras

    from deepforge_panel.libraries.keras.io import import_model

    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(
        inner_in, [keras.layers.Dense(3, name="i1")(inner_in), keras.layers.Dense(2, name="i2")(inner_in)], name="inner"
    )
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = keras.layers.Dense(4, name="shared")
    first, second = inner(shared(a))
    image = keras.Input((5, 5, 1), name="image")
    padded = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(image)
    head = keras.layers.Dense(1, name="head")(second)
    model = keras.Model([a, b, image], [first, head, shared(b), padded], name="imported")
    arch_id = import_model(digits_session.project, model.to_json())
    editor = _editor(digits_session, checker, arch_id)
    shapes = runner.run(editor.check_shapes())
    assert shapes is not None and all("shape" in result for result in shapes.values()), shapes
    assert "(None, 3), (None, 2)" in _body(editor, "inner") and "read-only: a nested model" in _body(editor, "inner")
    assert "shared: calls shared again" in _body(editor, "shared_call2") and "(None, 4)" in _body(
        editor, "shared_call2"
    )
    assert "(None, 6, 6, 1)" in _body(editor, "pad")
    labels = {node["id"]: node["label"] for node in editor.flow.nodes}
    assert {labels[e["source"]]: e["label"] for e in editor.flow.edges if labels[e["target"]] == "head"} == {
        "inner": "out 1"
    }, "the edge says which output it takes"
    styles = {node["label"]: node["style"] for node in editor.flow.nodes}
    assert styles["inner"] == styles["shared_call2"] == {"borderStyle": "dashed"} and styles["pad"] == {}

    layers = {layer.name: layer.id for layer in ArchitecturesView(digits_session.project).get(arch_id).layers.values()}
    editor.layer = layers["inner"]
    assert not editor.arg_widgets and "Read-only: a nested model" in editor.args.objects[0].object
    editor.layer = layers["shared_call2"]
    assert not editor.arg_widgets and "calls **shared** again" in editor.args.objects[0].object
    editor.layer = layers["pad"]
    assert editor.arg_widgets["padding"].value == "(0, 1), (0, 1)"
    editor.arg_widgets["padding"].value = "(1, 1), (0, 2)"
    pad = ArchitecturesView(digits_session.project).get(arch_id).layer("pad")
    assert pad.args["padding"] == [[1, 1], [0, 2]]


def test_import_a_model_file_from_the_editor(
    empty_session: Session, checker: ShapeChecker, runner: asyncio.Runner, tmp_path: Path
) -> None:
    """Planned in a worker process (the server never imports Keras), written at once, shown with its notes."""
    import keras

    x = keras.Input((3,), name="x")
    shared = keras.layers.Dense(3, name="shared")
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(shared(shared(x)))
    keras.Model(x, doubled, name="lam").save(tmp_path / "lam.keras")
    editor = _editor(empty_session, checker)
    assert runner.run(editor.import_upload()) is None
    assert "choose a .keras, .h5 or model JSON file" in editor.message.object

    editor.upload.param.update(value=(tmp_path / "lam.keras").read_bytes()[:300], filename="broken.keras")
    assert runner.run(editor.import_upload()) is None
    assert "broken.keras is not a .keras file" in editor.message.object
    assert ArchitecturesView(empty_session.project).all() == [], "nothing half-imported"

    editor.upload.param.update(value=(tmp_path / "lam.keras").read_bytes(), filename="lam.keras")
    editor.new_name.value = "from-file"
    arch_id = runner.run(editor.import_upload())
    assert arch_id is not None and editor.architecture == arch_id and not editor.message.visible
    arch = ArchitecturesView(empty_session.project).get(arch_id)
    assert arch.name == "from-file" and arch.layer("shared_call2").shares == arch.layer("shared").id
    assert editor.notes.visible and "double (Lambda) keeps its function as Python bytecode" in editor.notes.object
    shapes = runner.run(editor.check_shapes())
    assert shapes is not None and "(None, 3)" in _body(editor, "double")
    assert "read-only: kept as Keras saved it" in _body(editor, "double")
