"""The Artifacts tab downloads files people can open: an array as ``.npy``, any artifact as a pickle; bad bytes say why."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT

WEIGHTS = np.arange(12, dtype="float32").reshape(3, 4) / 4


def seed(server: Any, project: str) -> None:
    """Store artifacts in the project's storage as jobs store theirs: an array and one whose bytes do not load."""
    from deepforge_panel.adapters.storage import storage
    from deepforge_panel.crdt import Home
    from deepforge_panel.jobruntime.deepforge import serialization
    from deepforge_panel.project import Project

    store = Home(server.home).open(project)
    try:
        forked = Project.open(store)
        artifacts = storage((store.path.parent / "artifacts").resolve().as_uri())
        for name, data in (
            ("fit.weights", serialization.dumps(WEIGHTS)),
            ("fit.broken", b"deepforge:pickle\n\x80\x05 not a pickle"),
        ):
            url = artifacts.put(f"seeded/{name}", data)
            forked.artifacts.add(name, "numpy.ndarray", url, hashlib.sha256(data).hexdigest(), len(data))
    finally:
        store.close()


def download(page: Any) -> tuple[bytes, str]:
    """Click Download and return the bytes of the file the browser saved."""
    with page.expect_download(timeout=TIMEOUT) as started:
        page.locator(".bk-btn:visible", has_text="Download").click()
    saved = started.value
    path = saved.path()
    return Path(path).read_bytes(), saved.suggested_filename


def test_an_array_downloads_as_npy_and_as_a_pickle(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    seed(server, project)
    for theme in ("&theme=dark", ""):
        page = new_tab().page
        page.goto(f"{server.url}?project={project}{theme}")
        page.locator(".bk-tab", has_text="Artifacts").click(timeout=TIMEOUT)
        page.locator(".tabulator-row:visible", has_text="fit.weights").click(timeout=TIMEOUT)
        formats = page.locator("select:visible")
        expect(formats).to_have_value("NumPy array (.npy)", timeout=TIMEOUT)
        note = page.get_by_text("Downloads as fit.weights.npy")
        expect(note).to_contain_text("open it with numpy.load(path)")
        page.screenshot(path=screenshots / f"downloads{theme.replace('&theme=', '-')}.png")

    data, filename = download(page)
    assert filename == "fit.weights.npy"
    loaded = np.load(io.BytesIO(data), allow_pickle=False)
    assert loaded.dtype == WEIGHTS.dtype and np.array_equal(loaded, WEIGHTS)

    formats.select_option(label="Python pickle (.pkl)")
    expect(page.get_by_text("Downloads as fit.weights.pkl")).to_contain_text("needs numpy installed")
    page.screenshot(path=screenshots / "downloads-pickle.png")
    data, filename = download(page)
    assert filename == "fit.weights.pkl" and np.array_equal(pickle.loads(data), WEIGHTS)


def test_bytes_that_do_not_load_say_why_and_the_page_stays(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    seed(server, project)
    page = new_tab().page
    page.goto(f"{server.url}?project={project}")
    page.locator(".bk-tab", has_text="Artifacts").click(timeout=TIMEOUT)
    page.locator(".tabulator-row:visible", has_text="fit.broken").click(timeout=TIMEOUT)
    page.locator(".bk-btn:visible", has_text="Download").click()
    alert = page.locator(".alert-danger:visible")
    expect(alert).to_contain_text(
        "could not convert artifact 'fit.broken' to NumPy array (.npy): UnpicklingError", timeout=TIMEOUT
    )
    page.screenshot(path=screenshots / "downloads-error.png")
    page.locator(".tabulator-row:visible", has_text="fit.weights").click()
    data, _ = download(page)
    assert np.array_equal(np.load(io.BytesIO(data)), WEIGHTS), "the next download works"
