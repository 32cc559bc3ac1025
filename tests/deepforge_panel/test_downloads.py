"""Downloads people can open: real artifacts converted by the real worker process, read back with the real readers."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import pickle
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from deepforge_panel import downloads
from deepforge_panel.downloads import DownloadError, convert, find_format, format_for_path, formats
from deepforge_panel.errors import ProjectError
from deepforge_panel.jobruntime.deepforge import serialization

ARRAY = "numpy.ndarray"
FRAME = "pandas.core.frame.DataFrame"
FIGURE = "matplotlib.figure.Figure"
MODEL = "keras.src.models.functional.Functional"


def converted(value: object, type_name: str, key: str) -> bytes:
    """``value`` stored as a job stores it, then downloaded in the format ``key``."""
    return asyncio.run(convert(serialization.dumps(value), type_name, find_format(type_name, key), "x"))


def test_formats_follow_the_recorded_type() -> None:
    keys = {t: [f.key for f in formats(t)] for t in (ARRAY, FRAME, FIGURE, MODEL, "int", "operation.Result")}
    parquet = ["pandas.parquet"] if importlib.util.find_spec("pyarrow") else []
    assert keys == {
        ARRAY: ["numpy.npy", "pickle.pkl"],
        FRAME: ["pandas.csv", *parquet, "pickle.pkl"],
        FIGURE: ["matplotlib.png", "matplotlib.svg", "pickle.pkl"],
        MODEL: ["keras.keras", "pickle.pkl"],
        "int": ["pickle.pkl"],
        "operation.Result": ["pickle.pkl"],
    }
    assert [f.key for f in formats("keras.src.layers.core.dense.Dense")] == ["pickle.pkl"], "a layer is no model"
    npy = find_format(ARRAY, "numpy.npy")
    assert (npy.label, npy.extension, npy.mime, npy.opener) == (
        "NumPy array (.npy)",
        ".npy",
        "application/x-npy",
        "numpy.load(path)",
    )
    assert format_for_path(FIGURE, "plots/loss.SVG") == find_format(FIGURE, "matplotlib.svg")
    with pytest.raises(
        ProjectError, match=r"artifact 'n' holds a int, which does not export as \.npy: it exports as \.pkl"
    ):
        format_for_path("int", "n.npy", "n")
    with pytest.raises(ValueError, match=r"a int does not download as 'numpy.npy'; it does as pickle.pkl"):
        find_format("int", "numpy.npy")


def test_the_pickle_note_names_the_package_loading_needs() -> None:
    assert "needs pandas installed (it defines pandas.core.frame.DataFrame)" in downloads.pickle_note(FRAME)
    assert "Plain Python: loading needs no package" in downloads.pickle_note("dict")
    assert "the class operation.Result importable" in downloads.pickle_note("operation.Result")
    assert find_format("dict", "pickle.pkl").opener == "pickle.load(open(path, 'rb'))"


def test_an_array_downloads_as_npy() -> None:
    array = np.arange(12, dtype="float32").reshape(3, 4) / 7
    loaded = np.load(io.BytesIO(converted(array, ARRAY, "numpy.npy")), allow_pickle=False)
    assert loaded.dtype == array.dtype and np.array_equal(loaded, array)


def test_a_table_downloads_as_csv() -> None:
    frame = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.9, 0.5, 0.25]}, index=pd.Index(["a", "b", "c"], name="run"))
    loaded = pd.read_csv(io.BytesIO(converted(frame, FRAME, "pandas.csv")), index_col=0)
    pd.testing.assert_frame_equal(loaded, frame)
    if importlib.util.find_spec("pyarrow") is not None:
        pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(converted(frame, FRAME, "pandas.parquet"))), frame)


def test_a_figure_downloads_as_png_and_svg() -> None:
    from matplotlib.figure import Figure
    from PIL import Image

    figure = Figure(figsize=(4, 3), dpi=50)
    figure.subplots().plot([1, 2, 3], [3, 1, 2], label="loss")
    image = Image.open(io.BytesIO(converted(figure, FIGURE, "matplotlib.png")))
    assert image.format == "PNG" and image.size == (200, 150)
    svg = ElementTree.fromstring(converted(figure, FIGURE, "matplotlib.svg"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.attrib["width"].startswith("288")


def test_anything_else_downloads_as_its_pickle_without_starting_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "WORKER", [sys.executable, "-c", "raise SystemExit(1)"])
    value = {"classes": [3, 1, 4], "name": "digits"}
    data = converted(value, "dict", "pickle.pkl")
    assert data == pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) and pickle.loads(data) == value
    bare = pickle.dumps(value)
    assert asyncio.run(convert(bare, "dict", find_format("dict", "pickle.pkl"))) == bare, "stored before headers"


def test_bytes_that_do_not_load_say_why() -> None:
    npy = find_format(ARRAY, "numpy.npy")
    with pytest.raises(
        DownloadError, match=r"could not convert artifact 'w' to NumPy array \(\.npy\): UnpicklingError"
    ):
        asyncio.run(convert(b"deepforge:pickle\n\x80\x05garbage", ARRAY, npy, "w"))
    with pytest.raises(DownloadError, match=r"the artifact holds a int, not a numpy array"):
        asyncio.run(convert(serialization.dumps(3), ARRAY, npy))
    other = find_format("int", "pickle.pkl")
    with pytest.raises(DownloadError, match=r"no serializer 'gone' registered to load this artifact"):
        asyncio.run(convert(b"deepforge:gone\n123", "int", other, "g"))


def test_listing_formats_imports_neither_tensorflow_nor_keras() -> None:
    script = (
        "import sys; from deepforge_panel.downloads import formats; "
        f"assert [f.key for f in formats({MODEL!r})] == ['keras.keras', 'pickle.pkl']; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_trained_model_downloads_as_a_keras_file(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(inputs))
    data = converted(model, MODEL, "keras.keras")
    path = tmp_path / "model.keras"
    path.write_bytes(data)
    loaded = keras.saving.load_model(path)
    sample = np.ones((1, 3), dtype="float32")
    assert np.allclose(loaded.predict(sample, verbose=0), model.predict(sample, verbose=0))
    with pytest.raises(DownloadError, match=r"the artifact holds a int, not a Keras model"):
        asyncio.run(convert(serialization.dumps(3), MODEL, find_format(MODEL, "keras.keras"), "m"))
