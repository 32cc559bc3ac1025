"""The same pipeline on other adapters: artifacts in S3 (a real moto server), jobs on a real Dask cluster."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.orchestrator import Orchestrator
from tests.conftest import BUCKET
from tests.deepforge_panel.helpers import new_project
from tests.deepforge_panel.test_orchestrator import _chain


def _run_chain(orchestrator: Orchestrator):
    async def go():
        await orchestrator.compute.start()
        try:
            return await orchestrator.run("chain", {"c": {"amount": 100}})
        finally:
            await orchestrator.compute.stop()

    return asyncio.run(go())


def test_artifacts_in_s3(tmp_path: Path, s3_options: dict[str, Any], monkeypatch) -> None:
    monkeypatch.setenv("DEEPFORGE_CACHE", str(tmp_path / "cache"))
    project = new_project(tmp_path)
    _chain(project)
    store = storage(f"s3://{BUCKET}/{uuid.uuid4().hex}", **s3_options)
    execution = _run_chain(Orchestrator(project, compute("local"), store, tmp_path / "jobs"))
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    total = project.artifacts.get(execution.job("d").outputs["total"])
    assert total.url.startswith(f"s3://{BUCKET}/")
    assert serialization.loads(store.get(total.url)) == 125
    assert (tmp_path / "cache").is_dir(), "inputs fetched from S3 are cached by hash"


def test_s3_credentials_reach_jobs_through_the_environment_only(
    tmp_path: Path, s3_options: dict[str, Any], monkeypatch
) -> None:
    monkeypatch.setenv("DEEPFORGE_CACHE", str(tmp_path / "cache"))
    project = new_project(tmp_path)
    _chain(project)
    options = {**s3_options, "secret": "testing-" + uuid.uuid4().hex}  # moto takes any secret
    store = storage(f"s3://{BUCKET}/{uuid.uuid4().hex}", **options)
    execution = _run_chain(Orchestrator(project, compute("local"), store, tmp_path / "jobs"))
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    written = [
        p for p in (tmp_path / "jobs").rglob("*") if p.is_file() and options["secret"].encode() in p.read_bytes()
    ]
    assert written == []

    # By hand, the options go in the environment too.
    folder = tmp_path / "jobs" / execution.id / execution.job("d").id
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPFORGE", "MPLBACKEND", "AWS"))}
    env["DEEPFORGE_CACHE"] = str(tmp_path / "cache-by-hand")
    env["DEEPFORGE_STORAGE_OPTIONS"] = json.dumps(options)
    done = subprocess.run([sys.executable, "main.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "output total: int" in done.stdout


def test_jobs_on_a_dask_cluster(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    store = storage((tmp_path / "artifacts").as_uri())
    execution = _run_chain(Orchestrator(project, compute("dask", n_workers=2), store, tmp_path / "jobs"))
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    assert serialization.loads(store.get(project.artifacts.get(execution.job("d").outputs["total"]).url)) == 125
