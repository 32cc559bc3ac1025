"""Uploads: a file of any size streams to storage (the server never holds it whole), and becomes an artifact
that an Input node feeds to an operation as its bytes; an artifact's downloaded bytes upload as the same content."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest

from deepforge_panel.client import Client
from tests.servers import Server

MEASURE = """
class Measure:
    def execute(self, data):
        result = (type(data).__name__, len(data), data[:5])
        return result
"""


def _reset_peak(pid: int) -> None:
    """Make the process's peak resident memory its current one (Linux: ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory since the last reset (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.mark.slow
def test_a_big_upload_and_download_stream_without_filling_the_server_s_memory(
    server: Server, client: Client, project: str, tmp_path: Path
) -> None:
    """A 1 GiB file up and down again, then fed to a pipeline by an Input node."""
    size = 1024 * 1024 * 1024
    big = tmp_path / "big.bin"
    digest = hashlib.sha256(b"deepforge:bytes\n")
    with big.open("wb") as out:
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(size // len(block)):
            out.write(block)
            digest.update(block)
    _reset_peak(server.process.pid)
    before = _peak_rss_mb(server.process.pid)
    artifact = client.upload(project, "big", big)
    grown = _peak_rss_mb(server.process.pid) - before
    assert artifact["size"] == size + len(b"deepforge:bytes\n") and artifact["hash"] == digest.hexdigest()
    assert artifact["type"] == "bytes" and artifact["provenance"]["uploaded"]["filename"] == "big.bin"
    stored = Path(artifact["url"].removeprefix("file://"))
    assert stored.stat().st_size == artifact["size"]
    assert grown < 100, f"the server's peak memory grew by {grown:.0f} MiB for a {size >> 20} MiB upload"

    _reset_peak(server.process.pid)
    before = _peak_rss_mb(server.process.pid)
    back = client.download_to(project, artifact["id"], tmp_path / "back.bin")
    regrown = _peak_rss_mb(server.process.pid) - before
    assert back.stat().st_size == artifact["size"]
    with back.open("rb") as read:
        assert read.read(16) == b"deepforge:bytes\n" and read.read(1 << 20) == block
    assert regrown < 100, f"the server's peak memory grew by {regrown:.0f} MiB for a {size >> 20} MiB download"
    print(f"{size >> 20} MiB: the server's peak memory grew by {grown:.1f} MiB (upload), {regrown:.1f} MiB (download)")
    back.unlink()
    big.unlink()

    client.create_operation(project, MEASURE)
    client.create_pipeline(project, "measure big")
    client.add_node(project, "measure big", "Input", name="big", attributes={"artifact": artifact["id"]})
    client.add_node(project, "measure big", "Measure", name="measure")
    client.connect(project, "measure big", "big", "data", "measure", "data")
    run = client.wait(project, client.run(project, "measure big")["id"], timeout=600)
    assert run["status"] == "succeeded", run
    (result,) = client.artifacts(project, name="measure.result")
    assert pickle.loads(client.download(project, result["id"]).partition(b"\n")[2]) == ("bytes", size, block[:5])


def test_an_uploaded_file_reaches_an_operation_as_bytes_and_a_download_uploads_as_the_same_content(
    client: Client, project: str
) -> None:
    notes = client.upload(project, "notes", b"hello, workbench")
    client.create_operation(project, MEASURE)
    client.create_pipeline(project, "measure")
    client.add_node(project, "measure", "Input", name="notes", attributes={"artifact": "notes"})
    client.add_node(project, "measure", "Measure", name="measure")
    client.connect(project, "measure", "notes", "data", "measure", "data")
    run = client.wait(project, client.run(project, "measure")["id"], timeout=120)
    assert run["status"] == "succeeded", run
    (result,) = client.artifacts(project, name="measure.result")
    stored = client.download(project, result["id"])
    assert pickle.loads(stored.partition(b"\n")[2]) == ("bytes", 16, b"hello")
    again = client.upload(project, "again", stored, type=result["type"])
    assert (again["hash"], again["url"], again["type"]) == (result["hash"], result["url"], result["type"])
    assert client.download(project, notes["id"]) == b"deepforge:bytes\nhello, workbench"
