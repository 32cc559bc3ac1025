"""Where a project's jobs run and where its artifacts are kept: settings in the project document, secrets aside.

``meta.compute`` chooses the compute adapter (``local`` with its number of parallel jobs, or ``dask`` with a
scheduler's address, or a local cluster started on demand when none is given); ``meta.storage`` the
artifacts' storage (a local folder, by default the project's own ``artifacts``, or an S3-compatible store by
endpoint, bucket and prefix). Both are JSON in the document, so every peer sees them; the keys of an S3
store are **not**: they live in the home's secrets file (:mod:`deepforge_panel.secret_store`), read only
when a job needs them and handed to it through its environment.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from deepforge_panel.crdt import dumps, loads
from deepforge_panel.errors import ProjectError

if TYPE_CHECKING:
    from deepforge_panel.project import Project
    from deepforge_panel.secret_store import SecretStore

__all__ = ["ComputeSettings", "SettingsError", "StorageSettings"]

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class SettingsError(ProjectError, ValueError):
    """A compute or storage setting refused, saying which and why; the document keeps what it had."""


@dataclass(frozen=True)
class ComputeSettings:
    """Which compute adapter runs the project's jobs, and its options."""

    adapter: Literal["local", "dask"] = "local"
    max_workers: int | None = None
    """Local: jobs at once (default: one per CPU)."""
    scheduler: str | None = None
    """Dask: the scheduler's address (``tcp://host:8786``); None: a local cluster started on demand."""
    n_workers: int = 2
    """Dask, local cluster: its worker processes."""

    def __post_init__(self) -> None:
        if self.adapter not in ("local", "dask"):
            raise SettingsError(f"the compute adapter is 'local' or 'dask', not {self.adapter!r}")
        if self.max_workers is not None and not (isinstance(self.max_workers, int) and self.max_workers >= 1):
            raise SettingsError(f"parallel jobs must be a whole number of at least 1, not {self.max_workers!r}")
        if not (isinstance(self.n_workers, int) and self.n_workers >= 1):
            raise SettingsError(f"Dask workers must be a whole number of at least 1, not {self.n_workers!r}")
        if self.scheduler is not None and not re.match(r"^(tcp|tls|inproc|ws|wss)://\S+$", self.scheduler):
            raise SettingsError(f"a Dask scheduler address looks like tcp://host:8786, not {self.scheduler!r}")

    def options(self) -> dict[str, Any]:
        """The adapter's constructor options."""
        if self.adapter == "local":
            return {"max_workers": self.max_workers} if self.max_workers else {}
        return {"address": self.scheduler} if self.scheduler else {"n_workers": self.n_workers}

    def describe(self) -> str:
        if self.adapter == "local":
            return f"local, {self.max_workers or 'one per CPU'} jobs at once"
        return f"Dask at {self.scheduler}" if self.scheduler else f"a local Dask cluster of {self.n_workers} workers"

    @classmethod
    def of(cls, project: Project) -> ComputeSettings:
        value = project.meta.get("compute")
        return cls(**loads(value)) if isinstance(value, str) else cls()

    def save(self, project: Project) -> None:
        with project.transaction():
            project.meta["compute"] = dumps(asdict(self))


@dataclass(frozen=True)
class StorageSettings:
    """Where the project's artifacts are kept."""

    kind: Literal["local", "s3"] = "local"
    folder: str | None = None
    """Local: an absolute folder; None: the project's own ``artifacts`` folder."""
    endpoint: str | None = None
    """S3: the service's URL (``http://127.0.0.1:9000`` for MinIO); None: AWS."""
    bucket: str | None = None
    prefix: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("local", "s3"):
            raise SettingsError(f"storage is 'local' or 's3', not {self.kind!r}")
        if self.kind == "local" and self.folder is not None and not Path(self.folder).is_absolute():
            raise SettingsError(f"a storage folder is an absolute path, not {self.folder!r}")
        if self.kind == "s3":
            if not self.bucket or not _BUCKET.match(self.bucket):
                raise SettingsError(
                    f"an S3 bucket name is 3-63 lowercase letters, digits, '.' or '-', not {self.bucket!r}"
                )
            if self.endpoint is not None and not re.match(r"^https?://\S+$", self.endpoint):
                raise SettingsError(f"an S3 endpoint is an http(s) URL, not {self.endpoint!r}")
            if ".." in self.prefix.split("/"):
                raise SettingsError(f"an S3 prefix cannot climb out of its bucket: {self.prefix!r}")

    def url(self, project_folder: Path) -> str:
        """The storage root URL (no credentials in it)."""
        if self.kind == "local":
            return Path(self.folder or project_folder / "artifacts").resolve().as_uri()
        prefix = self.prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    def options(self, secrets: SecretStore) -> dict[str, Any]:
        """fsspec options reaching the store: the endpoint, and the keys from the secrets file if it has them."""
        if self.kind == "local":
            return {}
        options: dict[str, Any] = {}
        if self.endpoint:
            options["client_kwargs"] = {"endpoint_url": self.endpoint}
        credentials = secrets.s3_credentials(self.endpoint or "", self.bucket or "")
        if credentials is not None:
            options["key"], options["secret"] = credentials
        return options

    def describe(self) -> str:
        if self.kind == "local":
            return f"local folder {self.folder}" if self.folder else "the project's artifacts folder"
        return (
            f"S3 bucket {self.bucket}"
            + (f" at {self.endpoint}" if self.endpoint else "")
            + (f", prefix {self.prefix}" if self.prefix else "")
        )

    @classmethod
    def of(cls, project: Project) -> StorageSettings:
        value = project.meta.get("storage")
        return cls(**loads(value)) if isinstance(value, str) else cls()

    def save(self, project: Project) -> None:
        with project.transaction():
            project.meta["storage"] = dumps(asdict(self))
