"""The document's roots come in two kinds: design (what users author) and records (what happened)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deepforge_panel.crdt import CORE_ROOTS, ROOTS, register_root, unregister_root


@pytest.fixture
def clean_roots() -> Iterator[None]:
    yield
    for name in ("runs_log", "sketches"):
        unregister_root(name)


def test_core_roots_are_split_into_design_and_records() -> None:
    assert set(ROOTS.design) >= {"meta", "operations", "pipelines"}
    assert ROOTS.records[:2] == ("executions", "artifacts")
    assert set(ROOTS.design).isdisjoint(ROOTS.records)
    assert set(CORE_ROOTS) <= set(ROOTS.design) | set(ROOTS.records)
    assert ROOTS.kind("executions") == "records" and ROOTS.kind("pipelines") == "design"


@pytest.mark.usefixtures("clean_roots")
def test_registered_roots_are_design_unless_declared_records() -> None:
    register_root("sketches")
    register_root("runs_log", kind="records")
    assert "sketches" in ROOTS.design and "sketches" not in ROOTS.records
    assert "runs_log" in ROOTS.records and "runs_log" not in ROOTS.design
    assert "runs_log" in ROOTS and "sketches" in ROOTS
    register_root("sketches")  # again, same kind: nothing changes
    with pytest.raises(ValueError, match="already registered as a design root"):
        register_root("sketches", kind="records")
    with pytest.raises(ValueError, match="kind must be one of"):
        register_root("other", kind="history")  # type: ignore[arg-type]
    unregister_root("runs_log")
    assert "runs_log" not in ROOTS.records and "runs_log" not in ROOTS
    with pytest.raises(KeyError, match="not a root"):
        ROOTS.kind("runs_log")
