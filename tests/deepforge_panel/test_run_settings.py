"""Where jobs run and artifacts are kept, chosen per project; the S3 keys kept out of the document and jobs."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute.dask import DaskCompute
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.hub import ProjectHub
from deepforge_panel.run_settings import ComputeSettings, SettingsError, StorageSettings
from deepforge_panel.workspace import Workspace
from tests.conftest import BUCKET
from tests.deepforge_panel.test_orchestrator import _chain


def test_settings_are_checked_and_kept_in_the_document(tmp_path: Path) -> None:
    project = Workspace(tmp_path / "home", examples=False).create("p")
    assert ComputeSettings.of(project) == ComputeSettings() and StorageSettings.of(project) == StorageSettings()
    ComputeSettings(adapter="dask", scheduler="tcp://10.0.0.5:8786").save(project)
    StorageSettings(kind="s3", endpoint="http://127.0.0.1:9000", bucket="lab-data", prefix="runs").save(project)
    assert ComputeSettings.of(project).options() == {"address": "tcp://10.0.0.5:8786"}
    assert StorageSettings.of(project).url(tmp_path) == "s3://lab-data/runs"
    for bad, message in [
        (lambda: ComputeSettings(adapter="slurm"), "'local' or 'dask'"),  # type: ignore[arg-type]
        (lambda: ComputeSettings(max_workers=0), "at least 1"),
        (lambda: ComputeSettings(adapter="dask", scheduler="my laptop"), "tcp://host:8786"),
        (lambda: StorageSettings(kind="s3", bucket="Bad_Bucket"), "bucket name"),
        (lambda: StorageSettings(kind="s3", bucket="ok-bucket", prefix="../other"), "climb out"),
        (lambda: StorageSettings(folder="relative/path"), "absolute path"),
    ]:
        with pytest.raises(SettingsError, match=message):
            bad()


def test_an_s3_store_with_keys_from_the_secrets_file_only(
    tmp_path: Path, s3_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPFORGE_CACHE", str(tmp_path / "cache"))
    home = tmp_path / "home"
    workspace = Workspace(home, examples=False)
    project = workspace.create("remote")
    _chain(project)
    endpoint = s3_options["client_kwargs"]["endpoint_url"]
    secret = "secret-" + uuid.uuid4().hex  # moto takes any keys
    command = [
        sys.executable, "-m", "deepforge_panel.cli", "settings", "remote", "--home", str(home),
        "--storage", "s3", "--endpoint", endpoint, "--bucket", BUCKET, "--prefix", f"runs/{uuid.uuid4().hex}",
        "--access-key", "testing", "--secret-key", secret,
    ]  # fmt: skip
    project.close()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"storage\tS3 bucket {BUCKET} at {endpoint}" in done.stdout and "keys in the home's secrets" in done.stdout
    assert stat.S_IMODE(os.stat(home / "secrets.json").st_mode) == 0o600

    project = workspace.open("remote")
    orchestrator = workspace.orchestrator(project)
    assert orchestrator.storage.url.startswith(f"s3://{BUCKET}/runs/")
    execution = asyncio.run(orchestrator.run("chain"))
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    assert all(a.url.startswith(f"s3://{BUCKET}/runs/") for a in project.artifacts.all())
    leaks = [
        path
        for path in home.rglob("*")
        if path.is_file() and path.name != "secrets.json" and secret.encode() in path.read_bytes()
    ]
    assert leaks == [], "the secret key is in no project file, document or job folder"
    from pycrdt import Doc

    assert secret.encode() not in project.doc.get_update(Doc().get_state())


def test_the_hub_runs_on_the_adapter_the_settings_choose_and_one_run_may_choose_another(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "home", examples=False)
    workspace.create("p").close()

    async def scenario() -> None:
        async with ProjectHub(workspace) as hub:
            project = hub.project("p")
            _chain(project)
            assert isinstance(hub.orchestrator("p").compute, LocalCompute)
            ComputeSettings(adapter="dask", n_workers=1).save(project)
            on_dask = hub.orchestrator("p")
            assert isinstance(on_dask.compute, DaskCompute) and on_dask.compute.n_workers == 1
            execution = await on_dask.run("chain", cache=False)  # the cluster starts with the first job
            assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
            once = hub.orchestrator("p", compute="local")
            assert isinstance(once.compute, LocalCompute)
            assert hub.orchestrator("p") is on_dask, "the override was for one run"

    asyncio.run(scenario())
