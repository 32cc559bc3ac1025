"""The artifact browser over artifacts made by real executions (local subprocesses, file storage)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import io
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import pytest

from deepforge_panel.components.artifact_browser import ArtifactBrowser, human_size
from deepforge_panel.components.session import Session
from deepforge_panel.hub import ProjectHub
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.provenance import lineage
from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import ADD, PAIR, SOURCE

# Bokeh 3.9 turns every pandas frame into a Tabulator source with reset_index(inplace=True),
# which pandas 3.1 deprecates; the warning is about bokeh's internals, not this code.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning:bokeh")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A tab's session on an empty project "demo" of a hub over a fresh home."""
    workspace = Workspace(tmp_path / "home", examples=False)
    workspace.create("demo").store.close()
    hub = ProjectHub(workspace)
    yield Session(hub=hub, project=hub.project("demo").as_user("tab-1"), author="ada", tab="Artifacts")
    asyncio.run(hub.close())


def _run_chain(session: Session) -> dict[str, str]:
    """Build a -> b -> c, a + c -> d and run it for real; node name -> id of its output artifact."""
    project = session.project
    ops = {name: project.operations.add(code) for name, code in (("Source", SOURCE), ("Add", ADD), ("Pair", PAIR))}
    pid = project.pipelines.create("chain")
    a = project.pipelines.add_node(pid, ops["Source"], name="a", attributes={"value": 10})
    b = project.pipelines.add_node(pid, ops["Add"], name="b", attributes={"amount": 5})
    c = project.pipelines.add_node(pid, ops["Add"], name="c", attributes={"amount": 100})
    d = project.pipelines.add_node(pid, ops["Pair"], name="d")
    project.pipelines.add_edge(pid, a, "data", b, "data")
    project.pipelines.add_edge(pid, b, "result", c, "data")
    project.pipelines.add_edge(pid, a, "data", d, "left")
    project.pipelines.add_edge(pid, c, "result", d, "right")
    execution = asyncio.run(session.hub.orchestrator("demo").run("chain", author=session.author))
    assert execution.status == "succeeded", [j.error for j in execution.jobs.values()]
    return {job.name: next(iter(job.outputs.values())) for job in execution.jobs.values()}


def _upload(session: Session, name: str, data: bytes, type_name: str = "bytes") -> str:
    """An artifact from outside (no provenance), stored through the project's storage."""
    storage = session.hub.orchestrator("demo").storage
    url = storage.put(f"uploads/{hashlib.sha256(name.encode()).hexdigest()[:16]}", data)
    return session.project.artifacts.add(name, type_name, url, hashlib.sha256(data).hexdigest(), len(data))


def click(download: pn.widgets.FileDownload) -> None:
    """What a click in the browser sends back; Panel drives the async callback on a new loop, closed here."""
    download._clicks += 1
    loop = asyncio.get_event_loop_policy().get_event_loop()
    asyncio.set_event_loop(None)
    loop.close()


def _texts(view: Any) -> list[str]:
    """Every piece of text a layout shows: card titles, pane contents, nested all the way down."""
    found = []
    if isinstance(view, pn.Card):
        found.append(view.title)
    if isinstance(getattr(view, "object", None), str):
        found.append(view.object)
    for child in getattr(view, "objects", []):
        found.extend(_texts(child))
    return found


def _row(browser: ArtifactBrowser, artifact_id: str) -> int:
    return list(browser.table.value.index).index(artifact_id)


def test_empty_state_then_artifacts_appear_live(session: Session) -> None:
    browser = ArtifactBrowser(session=session)
    assert browser.empty.visible and not browser.table.visible and not browser.details.visible
    pn.panel(browser).get_root()

    first = _upload(session, "raw.csv", b"x,y\n1,2\n")
    assert not browser.empty.visible and browser.table.visible
    assert list(browser.table.value.index) == [first]
    row = browser.table.value.loc[first]
    assert (row["name"], row["type"], row["size"], row["made by"]) == (
        "raw.csv",
        "bytes",
        "8 B",
        "uploaded (no provenance)",
    )
    assert row["hash"] == hashlib.sha256(b"x,y\n1,2\n").hexdigest()[:12]

    browser.table.selection = [0]
    assert browser.artifact == first and browser.details.visible
    second = _upload(session, "more.csv", b"1" * 3000)
    assert list(browser.table.value.index) == [second, first], "newest first"
    assert browser.table.selection == [1], "the selection follows its artifact"
    assert browser.table.value.loc[second, "size"] == "2.9 KiB"

    session.project.artifacts.remove(first)
    assert browser.artifact is None and not browser.details.visible


def test_lists_executed_artifacts_and_shows_provenance_tree(session: Session) -> None:
    outputs = _run_chain(session)
    browser = ArtifactBrowser(session=session)
    assert set(browser.table.value["name"]) == {"a.data", "b.result", "c.result", "d.total"}
    assert browser.table.value.loc[outputs["d"], "made by"] == "chain / d"

    browser.table.selection = [_row(browser, outputs["d"])]
    assert browser.artifact == outputs["d"]
    header = browser.header.object
    artifact = session.project.artifacts.get(outputs["d"])
    assert "d.total" in header and artifact.hash in header and artifact.url in header

    texts = _texts(browser.tree)
    titles = [t for t in texts if "· node" in t]
    assert titles[0] == "Pair · node d"
    assert "input right ← Add · node c" in titles and "input data ← Add · node b" in titles
    assert "input left ← Source · node a" in titles
    joined = "\n".join(texts)
    assert "| `amount` | `100` |" in joined and "| `amount` | `5` |" in joined and "| `value` | `10` |" in joined
    assert "class Pair" in joined and "data + self.amount" in joined
    code_cards = [card for card in _cards(browser.tree) if card.title.startswith("code of")]
    assert code_cards and all(card.collapsed for card in code_cards), "code snapshots start collapsed"
    assert pn.panel(browser).get_root() is not None


def test_a_job_that_may_not_repeat_says_so_in_its_card() -> None:
    from deepforge_panel.components.artifact_browser import job_card
    from deepforge_panel.interface import parse_interface
    from deepforge_panel.provenance import executed_job

    record = executed_job(
        execution="x1",
        job="j1",
        node="train",
        pipeline="p",
        commit="c1",
        operation_name="Source",
        code=SOURCE,
        interface=parse_interface(SOURCE),
        attributes={},
        output="data",
        inputs={},
        caveats=["TensorFlow ran on a GPU <b>(GPU:0)</b>"],
    )
    alerts = [view for view in job_card(record).objects if isinstance(view, pn.pane.Alert)]
    assert len(alerts) == 1 and "May not repeat bit for bit" in alerts[0].object
    assert "<b>" not in alerts[0].object and "GPU" in alerts[0].object  # the note is text, never markup
    assert not [v for v in job_card({**record, "caveats": []}).objects if isinstance(v, pn.pane.Alert)]


def _cards(view: Any) -> list[pn.Card]:
    own = [view] if isinstance(view, pn.Card) else []
    return own + [card for child in getattr(view, "objects", []) for card in _cards(child)]


def test_download_of_a_plain_value_is_its_pickle(session: Session) -> None:
    outputs = _run_chain(session)
    browser = ArtifactBrowser(session=session)
    assert browser.download.disabled and browser.format.disabled
    browser.select(outputs["d"])
    artifact = session.project.artifacts.get(outputs["d"])
    stored = session.hub.orchestrator("demo").storage.get(artifact.url)
    assert hashlib.sha256(stored).hexdigest() == artifact.hash

    assert browser.format.options == {"Python pickle (.pkl)": "pickle.pkl"}
    assert not browser.download.disabled and browser.download.filename == "d.total.pkl"
    note = browser.format_note.object
    assert browser.format_note.visible and note.startswith(
        "Downloads as `d.total.pkl`; open it with `pickle.load(open(path, 'rb'))`."
    )
    assert "Plain Python: loading needs no package." in note

    click(browser.download)
    data_url = browser.download.data
    assert data_url.startswith("data:application/octet-stream;base64,")
    assert pickle.loads(base64.b64decode(data_url.split(",", 1)[1])) == 10 + (10 + 5 + 100)


def _store(session: Session, name: str, value: Any, type_name: str) -> str:
    """An artifact stored as a job stores its outputs (``serialization.dumps``)."""
    return _upload(session, name, serialization.dumps(value), type_name)


def test_the_formats_offered_follow_the_artifact_type(session: Session) -> None:
    array = _store(session, "fit.weights", np.eye(3), "numpy.ndarray")
    table = _store(session, "fit.history", pd.DataFrame({"loss": [0.5]}), "pandas.core.frame.DataFrame")
    figure = _upload(session, "plot <b>loss<b> `x`", b"-", "matplotlib.figure.Figure")
    model = _upload(session, "train.model", b"-", "keras.src.models.functional.Functional")
    browser = ArtifactBrowser(session=session)
    offered = {}
    for artifact in (array, table, figure, model):
        browser.select(artifact)
        offered[artifact] = (dict(browser.format.options), browser.format.value, browser.download.filename)
    parquet = {"Parquet table (.parquet)": "pandas.parquet"} if importlib.util.find_spec("pyarrow") else {}
    pkl = {"Python pickle (.pkl)": "pickle.pkl"}
    assert offered == {
        array: ({"NumPy array (.npy)": "numpy.npy", **pkl}, "numpy.npy", "fit.weights.npy"),
        table: ({"CSV table (.csv)": "pandas.csv", **parquet, **pkl}, "pandas.csv", "fit.history.csv"),
        figure: (
            {"PNG image (.png)": "matplotlib.png", "SVG image (.svg)": "matplotlib.svg", **pkl},
            "matplotlib.png",
            "plot_b_loss_b_x.png",
        ),
        model: ({"Keras model (.keras)": "keras.keras", **pkl}, "keras.keras", "train.model.keras"),
    }
    assert "open it with `keras.saving.load_model(path)`" in browser.format_note.object
    assert browser.download.get_root().button_type == "primary", "the main action of the row shows as one"

    browser.select(figure)
    browser.format.value = "matplotlib.svg"
    assert browser.download.filename == "plot_b_loss_b_x.svg"
    assert "Opens in a web browser" in browser.format_note.object
    browser.select(array)
    browser.format.value = "pickle.pkl"
    assert browser.download.filename == "fit.weights.pkl"
    assert "needs numpy installed (it defines numpy.ndarray)" in browser.format_note.object
    browser.select(table)
    assert browser.format.value == "pandas.csv", "each artifact starts at its most specific format"


def test_an_array_downloads_as_npy(session: Session) -> None:
    array = np.arange(6, dtype="int16").reshape(2, 3)
    browser = ArtifactBrowser(session=session)
    browser.select(_store(session, "fit.weights", array, "numpy.ndarray"))
    click(browser.download)
    assert browser.download.filename == "fit.weights.npy" and not browser.download.loading
    data = base64.b64decode(browser.download.data.split(",", 1)[1])
    assert np.array_equal(np.load(io.BytesIO(data), allow_pickle=False), array)


def test_a_corrupt_artifact_says_why_and_sends_nothing(session: Session) -> None:
    corrupt = b"deepforge:pickle\n\x80\x05 not a pickle"
    artifact_id = _upload(session, "fit.weights", corrupt, "numpy.ndarray")
    browser = ArtifactBrowser(session=session)
    browser.select(artifact_id)
    assert asyncio.run(browser.download_file()) is None
    click(browser.download)
    assert browser.download.data is None or browser.download.data == "", "no file is sent"
    assert browser.message.visible and browser.message.alert_type == "danger"
    assert "could not convert artifact 'fit.weights' to NumPy array (.npy): UnpicklingError" in session.message
    assert not browser.download.loading and not browser.download.disabled
    url = session.project.artifacts.get(artifact_id).url
    assert session.hub.orchestrator("demo").storage.get(url) == corrupt, "the stored artifact is untouched"

    browser.format.value = "pickle.pkl"
    sent = asyncio.run(browser.download_file())
    assert sent is not None and sent.read() == b"\x80\x05 not a pickle", "its pickle is still there to take"
    assert not browser.message.visible


def test_an_artifact_missing_from_storage_says_so(session: Session) -> None:
    artifact_id = _upload(session, "gone.bin", b"deepforge:pickle\nx")
    session.hub.orchestrator("demo").storage.delete(session.project.artifacts.get(artifact_id).url)
    browser = ArtifactBrowser(session=session)
    browser.select(artifact_id)
    assert asyncio.run(browser.download_file()) is None
    assert "could not download 'gone.bin'" in session.message and browser.message.alert_type == "danger"


def test_recreate_builds_the_pipeline_of_the_lineage_and_opens_it(session: Session) -> None:
    outputs = _run_chain(session)
    browser = ArtifactBrowser(session=session)
    browser.select(outputs["d"])
    assert not browser.recreate_button.disabled
    browser.recreate_button.clicks += 1

    assert session.tab == "Pipelines" and session.pipeline is not None
    pipeline = session.project.pipelines.get(session.pipeline)
    expected = [record["node"] for record in lineage(session.project.artifacts.get(outputs["d"]).provenance)]
    assert sorted(node.name for node in pipeline.nodes.values()) == sorted(expected) == ["a", "b", "c", "d"]
    assert len(pipeline.edges) == 4
    assert browser.message.visible and pipeline.name in browser.message.object


def test_recreate_without_provenance_says_why(session: Session) -> None:
    upload = _upload(session, "raw.bin", b"\x00\x01")
    browser = ArtifactBrowser(session=session)
    browser.select(upload)
    assert browser.recreate_button.disabled
    assert any("no provenance" in text for text in _texts(browser.tree))

    assert browser.recreate() is None
    assert browser.message.visible and browser.message.alert_type == "warning"
    assert "no provenance" in browser.message.object and "no provenance" in session.message
    assert session.tab == "Artifacts" and session.project.pipelines.all() == []


def test_human_sizes() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 5 * 1024**2, 3 * 1024**4)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
        "3.0 TiB",
    ]


def test_an_artifact_stored_where_this_workbench_cannot_reach_says_where_and_sends_nothing(session: Session) -> None:
    """An artifact a peer made records the peer's storage; outside this workbench's storage it is never opened."""
    elsewhere = "file:///some/peer/home/artifacts/run1/model"
    artifact_id = session.project.artifacts.add("peer.model", "bytes", elsewhere, "0" * 64, 3, None)
    browser = ArtifactBrowser(session=session)
    browser.select(artifact_id)
    assert browser.message.visible and browser.message.alert_type == "warning"
    assert f"stored at {elsewhere}, not reachable from here" in browser.message.object
    assert asyncio.run(browser.download_file()) is None
    assert "not reachable from here" in session.message and browser.message.alert_type == "danger"


def test_an_artifact_a_notebook_saved_shows_its_cells_and_what_they_loaded(session: Session) -> None:
    provenance = {
        "kind": "ImplicitOperation",
        "notebook": "explore <b>",
        "notebook_id": "nb1",
        "cell": "c2",
        "cells": [
            {"id": "c1", "code": "raw = artifacts.load('digits')"},
            {"id": "c2", "code": "artifacts.save(raw, 'x')"},
        ],
        "loaded": [{"artifact": "a0", "name": "digits", "hash": "ab" * 32, "url": "file:///x"}],
        "adapter": "local",
        "output": "x",
    }
    artifact_id = _upload(session, "x", b"deepforge:pickle\nx")
    with session.project.transaction():
        session.project.map("artifacts")[artifact_id]["provenance"] = json.dumps(provenance)
    browser = ArtifactBrowser(session=session)
    browser.select(artifact_id)
    texts = " ".join(_texts(browser.tree))
    assert "raw = artifacts.load('digits')" in texts, "the code of the first cell, in a code block"
    assert "notebook explore &lt;b&gt;" in texts and "digits" in texts and "2 cells" in browser.header.object
    assert not browser.recreate_button.disabled, "a notebook's chain of cells recreates as a pipeline"
    pipeline = session.project.pipelines.get(browser.recreate())
    assert session.tab == "Pipelines" and session.pipeline == pipeline.id
    assert sorted(n.name for n in pipeline.nodes.values()) == ["digits", "explore_b_x"]
    assert "Recreated pipeline" in browser.message.object


def test_an_uploaded_artifact_says_who_uploaded_it_when_and_from_which_file() -> None:
    from deepforge_panel.components.artifact_browser import provenance_tree, uploaded_text

    uploaded = {"filename": "scan *01*.tif", "through": "api", "time": 0, "by": "ada <lab>"}
    text = uploaded_text(uploaded)
    assert text.startswith("**Uploaded** by ada") and "`scan *01*.tif`" in text and "REST API" in text
    assert "<lab>" not in text  # escaped
    assert provenance_tree({"uploaded": uploaded}).object == text
