"""Execution records read defensively: a record that arrived in parts (a sync in progress) reads as pending."""

from __future__ import annotations

import socket
from pathlib import Path

from pycrdt import Map, Text

from deepforge_panel.crdt import DocStore
from deepforge_panel.executions import FINAL
from tests.deepforge_panel.helpers import new_project


def test_a_record_missing_its_fields_reads_as_pending_and_never_raises(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    with project.transaction():
        executions = project.map("executions")
        executions["bare"] = Map()
        executions["partial"] = Map(
            {
                "pipeline_name": "train",
                "status": "mystery",
                "created": "not a time",
                "jobs": Map({"j1": Map({"name": "fit"}), "j2": Map({"status": "running", "stdout": Text("hi")})}),
            }
        )
    bare = project.executions.get("bare")
    assert (bare.status, bare.pipeline_name, bare.created, bare.ended, bare.jobs, bare.edges, bare.error) == (
        "pending",
        "",
        None,
        None,
        {},
        [],
        "",
    )
    partial = project.executions.get("partial")
    assert partial.status == "pending" and partial.pipeline_name == "train" and partial.created is None
    fit, other = partial.jobs["j1"], partial.jobs["j2"]
    assert (fit.name, fit.status, fit.stdout, fit.metrics, fit.figures, fit.progress) == (
        "fit",
        "pending",
        "",
        {},
        {},
        {"current": 0, "total": None, "label": ""},
    )
    assert (other.name, other.status, other.stdout) == ("j2", "running", "hi")
    assert {e.id for e in project.executions.all()} == {"bare", "partial"}
    assert project.executions.recover() == [], "a record without a runner is nobody's to settle"
    assert "pending" not in FINAL


def test_only_the_site_that_ran_an_execution_settles_it(tmp_path: Path) -> None:
    """A peer's copy holds a run whose runner (same host name, a pid gone here) is not its own: left alone,
    or it would overwrite the result its owner has not sent yet. The owner settles its own."""
    project = new_project(tmp_path)
    gone = f"{socket.gethostname()}:{2**22 + 12345}"  # a pid above the kernel's limit: no such process
    with project.transaction():
        executions = project.map("executions")
        executions["theirs"] = Map({"status": "running", "runner": gone, "site": "s-a-peer", "jobs": Map()})
        executions["ours"] = Map({"status": "running", "runner": gone, "site": project.store.site, "jobs": Map()})
        executions["legacy"] = Map({"status": "running", "runner": gone, "jobs": Map()})
    assert sorted(project.executions.recover()) == ["legacy", "ours"]
    assert project.executions.get("theirs").status == "running"
    again = DocStore(project.store.path)
    try:
        assert again.site == project.store.site, "a store file keeps its site"
    finally:
        again.close()
