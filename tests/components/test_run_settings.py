"""The Compute and storage card over a real project: a projection of the document, keys to the secrets file."""

from __future__ import annotations

from pathlib import Path

from deepforge_panel.components.run_settings import RunSettings
from deepforge_panel.hub import ProjectHub
from deepforge_panel.run_settings import ComputeSettings, StorageSettings


def test_the_card_applies_compute_and_storage_and_keeps_keys_out_of_the_document(hub: ProjectHub) -> None:
    project = hub.project("digits").as_user("tab-1")
    card = RunSettings(project=project, secrets=hub.workspace.secrets)
    assert card.adapter.value == "local" and card.storage.value == "local"
    assert card.max_workers.visible and not card.scheduler.visible and not card.bucket.visible

    card.adapter.value = "dask"
    assert card.scheduler.visible and card.n_workers.visible and not card.max_workers.visible
    card.n_workers.value = 3
    card.apply_compute.clicks += 1
    assert ComputeSettings.of(project) == ComputeSettings(adapter="dask", n_workers=3)

    card.scheduler.value = "somewhere"
    card.apply_compute.clicks += 1
    assert card.message.visible and "tcp://host:8786" in card.message.object
    assert ComputeSettings.of(project) == ComputeSettings(adapter="dask", n_workers=3), "nothing changed"

    card.storage.value = "s3"
    card.endpoint.value, card.bucket.value, card.prefix.value = "http://127.0.0.1:9000", "lab-data", "runs"
    card.access_key.value, card.secret_key.value = "AKIA-EXAMPLE", "super-secret-value"
    card.apply_storage.clicks += 1
    assert not card.message.visible, card.message.object
    assert StorageSettings.of(project) == StorageSettings(
        kind="s3", endpoint="http://127.0.0.1:9000", bucket="lab-data", prefix="runs"
    )
    assert hub.workspace.secrets.s3_credentials("http://127.0.0.1:9000", "lab-data") == (
        "AKIA-EXAMPLE",
        "super-secret-value",
    )
    assert card.access_key.value == "" and "Keys for this bucket are kept" in card.keys_note.object
    assert "super-secret-value" not in str(project.meta.to_py())

    other = hub.project("digits").as_user("tab-2")  # another tab changes it: the card follows
    ComputeSettings(adapter="local", max_workers=2).save(other)
    assert card.adapter.value == "local" and card.max_workers.value == 2


def test_a_bad_bucket_is_refused_saying_why(hub: ProjectHub, tmp_path: Path) -> None:
    project = hub.project("digits").as_user("tab-1")
    card = RunSettings(project=project, secrets=hub.workspace.secrets)
    card.storage.value = "s3"
    card.bucket.value = "Not A Bucket"
    card.apply_storage.clicks += 1
    assert card.message.visible and "bucket name" in card.message.object
    assert StorageSettings.of(project) == StorageSettings()
