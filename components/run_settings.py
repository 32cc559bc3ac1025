"""The "Compute and storage" card: where a project's jobs run and where its artifacts are kept.

The widgets show the project document's ``meta.compute`` and ``meta.storage`` (a change there, from another
tab, a peer or the CLI, shows here) and *Apply* writes them back, checked as a whole. An S3 store's keys go
to the home's secrets file, never into the document: the key fields only say whether keys are kept.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from deepforge_panel.components.base import ProjectComponent, notify
from deepforge_panel.components.markup import md_text
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.run_settings import ComputeSettings, StorageSettings
from deepforge_panel.secret_store import SecretStore

_REFUSED: tuple[type[Exception], ...] = (*USER_ERRORS, ValueError)

ADAPTERS = {"On this machine (local processes)": "local", "On a Dask cluster": "dask"}
STORAGES = {"A local folder": "local", "An S3-compatible store": "s3"}


class RunSettings(ProjectComponent):
    """Compute adapter (local with its parallel jobs; Dask by scheduler address, or a local cluster started on
    demand) and artifact storage (a local folder, or S3-compatible by endpoint, bucket and prefix)."""

    secrets = param.ClassSelector(class_=SecretStore, doc="The home's secrets, where S3 keys are kept.")
    roots = ("meta",)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        readonly = self.project.readonly
        self.adapter = pn.widgets.Select(label="Jobs run", options=ADAPTERS, width=300, disabled=readonly)
        self.max_workers = pn.widgets.IntInput(label="Jobs at once", start=1, placeholder="one per CPU", width=140)
        self.scheduler = pn.widgets.TextInput(
            label="Dask scheduler", placeholder="empty: a local cluster, started when needed", width=320
        )
        self.n_workers = pn.widgets.IntInput(label="Local cluster workers", start=1, value=2, width=160)
        self.apply_compute = pn.widgets.Button(label="Apply", color="primary", align="end", disabled=readonly)
        self.apply_compute.on_click(self._save_compute)
        self.storage = pn.widgets.Select(label="Artifacts are kept in", options=STORAGES, width=300, disabled=readonly)
        self.folder = pn.widgets.TextInput(label="Folder", placeholder="empty: the project's own folder", width=420)
        self.endpoint = pn.widgets.TextInput(
            label="Endpoint", placeholder="http://127.0.0.1:9000 (empty: AWS)", width=300
        )
        self.bucket = pn.widgets.TextInput(label="Bucket", width=180)
        self.prefix = pn.widgets.TextInput(label="Prefix", placeholder="optional", width=180)
        self.access_key = pn.widgets.PasswordInput(label="Access key", width=200)
        self.secret_key = pn.widgets.PasswordInput(label="Secret key", width=200)
        self.keys_note = pn.pane.Markdown("", css_classes=["df-keys-note"])
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.apply_storage = pn.widgets.Button(label="Apply", color="primary", align="end", disabled=readonly)
        self.apply_storage.on_click(self._save_storage)
        for widget in (self.adapter, self.storage):
            widget.param.watch(lambda _e: self._show_fields(), "value")
        self._layout = pn.Card(
            pn.Row(self.adapter, self.max_workers, self.scheduler, self.n_workers, self.apply_compute),
            pn.Row(self.storage, self.folder, self.endpoint, self.bucket, self.prefix),
            pn.Row(self.access_key, self.secret_key, self.apply_storage),
            self.keys_note,
            self.message,
            title="Compute and storage",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["df-run-settings"],
        )
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def refresh(self) -> None:
        compute, storage = ComputeSettings.of(self.project), StorageSettings.of(self.project)
        self.adapter.value = compute.adapter
        self.max_workers.value = compute.max_workers
        self.scheduler.value = compute.scheduler or ""
        self.n_workers.value = compute.n_workers
        self.storage.value = storage.kind
        self.folder.value = storage.folder or ""
        self.endpoint.value = storage.endpoint or ""
        self.bucket.value = storage.bucket or ""
        self.prefix.value = storage.prefix
        self._show_fields()

    def _show_fields(self) -> None:
        local, s3 = self.adapter.value == "local", self.storage.value == "s3"
        self.max_workers.visible = local
        self.scheduler.visible = self.n_workers.visible = not local
        self.folder.visible = not s3
        for widget in (self.endpoint, self.bucket, self.prefix, self.access_key, self.secret_key, self.keys_note):
            widget.visible = s3
        storage = StorageSettings.of(self.project)
        kept = storage.kind == "s3" and self.secrets.has_s3_credentials(storage.endpoint or "", storage.bucket or "")
        self.keys_note.object = (
            "Keys for this bucket are kept in this home's secrets file (never in the project)."
            if kept
            else "No keys kept for this bucket: give them here (they go to this home's secrets file only)."
        )

    def _save_compute(self, _event: object = None) -> None:
        try:
            settings = ComputeSettings(
                adapter=self.adapter.value,
                max_workers=self.max_workers.value or None,
                scheduler=self.scheduler.value.strip() or None,
                n_workers=self.n_workers.value or 2,
            )
            settings.save(self.project)
        except USER_ERRORS as exc:
            self._refuse(f"Jobs still run as before: {exc}")
            return
        self.message.visible = False
        notify(f"jobs now run {settings.describe()}", level="success")

    def _refuse(self, text: str) -> None:
        self.message.param.update(object=md_text(text), visible=True)

    def _save_storage(self, _event: object = None) -> None:
        try:
            settings = StorageSettings(
                kind=self.storage.value,
                folder=self.folder.value.strip() or None,
                endpoint=self.endpoint.value.strip() or None,
                bucket=self.bucket.value.strip() or None,
                prefix=self.prefix.value.strip(),
            )
            key, secret = self.access_key.value, self.secret_key.value
            if settings.kind == "s3" and (key or secret):
                if not (key and secret):
                    raise ValueError("give both the access key and the secret key")
                self.secrets.set_s3_credentials(settings.endpoint or "", settings.bucket or "", key, secret)
            settings.save(self.project)
        except _REFUSED as exc:
            self._refuse(f"Artifacts are still kept as before: {exc}")
            return
        self.message.visible = False
        self.access_key.value = self.secret_key.value = ""
        self._show_fields()
        notify(f"artifacts are now kept in {settings.describe()}", level="success")
