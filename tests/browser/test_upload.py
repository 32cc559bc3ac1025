"""Bring your own data in the browser: files chosen or dropped in the Artifacts tab become artifacts, streamed through
the REST API with a progress bar, with where they came from as their provenance."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_downloads import download
from tests.browser.test_workbench import TIMEOUT, open_project

DROP = """(zone, [name, text]) => {
  const transfer = new DataTransfer()
  transfer.items.add(new File([text], name, { type: "text/csv" }))
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }))
  }
}"""


def _stored(server: Any, project: str, name: str) -> tuple[Any, bytes]:
    """The artifact called ``name`` and what an operation given it receives."""
    from deepforge_panel.adapters.storage import storage
    from deepforge_panel.crdt import Home
    from deepforge_panel.jobruntime.deepforge import serialization
    from deepforge_panel.project import Project

    store = Home(server.home).open(project)
    try:
        artifact = next(a for a in Project.open(store).artifacts.all() if a.name == name)
        data = storage(artifact.url.rsplit("/", 2)[0]).get(artifact.url)
    finally:
        store.close()
    assert hashlib.sha256(data).hexdigest() == artifact.hash
    return artifact, serialization.loads(data)


def test_chosen_and_dropped_files_become_artifacts_with_their_origin(
    server: Any, project: str, new_tab: Any, tmp_path: Path, screenshots: Path
) -> None:
    tab = new_tab()
    page = open_project(tab, server, project)
    page.locator(".bk-tab", has_text="Artifacts").click()
    zone = page.locator(".df-upload")
    expect(zone).to_be_visible(timeout=TIMEOUT)

    big = tmp_path / "measurements.bin"
    content = os.urandom(1024) * (24 * 1024)  # 24 MiB: the progress bar has something to show
    big.write_bytes(content)
    zone.locator("input[type=file]").set_input_files(str(big))
    row = zone.locator(".df-upload-row", has_text="measurements.bin")
    expect(row.locator(".df-upload-state")).to_have_text("uploaded", timeout=TIMEOUT)
    table = page.locator(".tabulator-row", has_text="measurements.bin")
    expect(table).to_be_visible(timeout=TIMEOUT)
    expect(table).to_contain_text(re.compile("uploaded by "))

    zone.evaluate(DROP, ["labels <b>.csv", "label\n1\n2\n"])  # as a file dragged from the desktop
    dropped = zone.locator(".df-upload-row", has_text="labels <b>.csv")  # the name shown as text
    expect(dropped.locator(".df-upload-state")).to_have_text("uploaded", timeout=TIMEOUT)
    expect(page.locator(".tabulator-row", has_text="labels <b>.csv")).to_be_visible(timeout=TIMEOUT)

    page.locator(".tabulator-row", has_text="measurements.bin").click()
    expect(page.get_by_text(re.compile(r"Uploaded by .* from the file"))).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(screenshots / "upload.png"))

    page.locator(".tabulator-row", has_text="labels <b>.csv").click()
    expect(page.get_by_text("Downloads as")).to_contain_text("labels_b_.csv", timeout=TIMEOUT)
    saved, filename = download(page)
    assert (saved, filename) == (b"label\n1\n2\n", "labels_b_.csv")  # the file itself, not a pickle of it

    artifact, received = _stored(server, project, "measurements.bin")
    assert received == content and artifact.size > len(content)
    assert artifact.provenance["uploaded"]["filename"] == "measurements.bin"
    assert artifact.provenance["uploaded"]["by"]
    _, received = _stored(server, project, "labels <b>.csv")
    assert received == b"label\n1\n2\n"
