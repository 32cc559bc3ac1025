"""The adapter registries: lazy dotted paths, helpful errors, clobber protection, cheap import (the class: tests/deepforge_panel/test_registry.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import deepforge_panel.adapters.compute.registry as compute_registry
import deepforge_panel.adapters.storage.registry as storage_registry
from deepforge_panel.adapters.compute import (
    ComputeAdapter,
    Emit,
    JobSpec,
    available_compute,
    compute,
    get_compute_class,
    register_compute,
)
from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.storage import (
    FsspecStorage,
    available_storage,
    get_storage_class,
    register_storage,
    storage,
)


class NullCompute(ComputeAdapter):
    """Runs nothing; a stand-in to register."""

    name = "null"

    def __init__(self, **config: object) -> None:
        self.config = config

    async def run(self, job: JobSpec, emit: Emit) -> int:
        return 0


@pytest.fixture(autouse=True)
def isolated_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let each test register freely into copies of the global registries."""
    monkeypatch.setattr(compute_registry, "_registry", compute_registry._registry.copy())
    monkeypatch.setattr(storage_registry, "_registry", storage_registry._registry.copy())


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh, importable, not yet imported module defining ``PluginCompute``."""
    name = f"df_plugin_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from deepforge_panel.adapters.compute import ComputeAdapter

            class PluginCompute(ComputeAdapter):
                name = "plugin"

                def __init__(self, size: int = 1) -> None:
                    self.size = size

                async def run(self, job, emit):
                    return 0
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_defaults_are_registered() -> None:
    assert available_compute() == ["dask", "local"]
    assert available_storage() == ["file", "s3"]
    assert get_compute_class("local") is LocalCompute
    assert get_storage_class("file") is FsspecStorage
    assert get_storage_class("s3") is FsspecStorage


def test_unknown_compute_name_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match="Unknown compute adapter 'slurm'; known: 'dask', 'local'"):
        compute("slurm")


def test_unknown_storage_protocol_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"No storage adapter for protocol 'nosuchproto'.*'file', 's3'"):
        storage("nosuchproto://bucket/root")


def test_any_protocol_fsspec_knows_falls_back_to_fsspec_storage() -> None:
    adapter = storage("memory://deepforge-registry-test")
    assert isinstance(adapter, FsspecStorage)
    adapter.put("k", b"v")
    assert adapter.get("memory://deepforge-registry-test/k") == b"v"
    adapter.delete("k")


@pytest.mark.parametrize("separator", [":", "."])
def test_dotted_path_is_imported_only_when_asked_for(plugin_module: str, separator: str) -> None:
    register_compute("plugin", f"{plugin_module}{separator}PluginCompute")
    assert plugin_module not in sys.modules
    assert "plugin" in available_compute()
    adapter = compute("plugin", size=3)
    assert plugin_module in sys.modules
    assert type(adapter).__name__ == "PluginCompute" and adapter.size == 3  # type: ignore[attr-defined]


def test_registering_a_class_directly() -> None:
    register_compute("null", NullCompute)
    adapter = compute("null", a=1)
    assert isinstance(adapter, NullCompute) and adapter.config == {"a": 1}


def test_clobber_protection() -> None:
    register_compute("null", NullCompute)
    register_compute("null", NullCompute)  # the same class again is fine
    with pytest.raises(ValueError, match=r"already registered.*clobber=True"):
        register_compute("null", LocalCompute)
    with pytest.raises(ValueError, match="already registered"):
        register_compute("local", "somewhere.else:LocalCompute")
    register_compute("local", "deepforge_panel.adapters.compute.local:LocalCompute")  # the same path again is fine
    register_compute("null", LocalCompute, clobber=True)
    assert get_compute_class("null") is LocalCompute


def test_storage_registration_overrides_the_fsspec_fallback() -> None:
    class MemoryStorage(FsspecStorage):
        protocol = "memory"

    register_storage("memory", MemoryStorage)
    assert type(storage("memory://x")) is MemoryStorage
    with pytest.raises(ValueError, match="already registered"):
        register_storage("file", MemoryStorage)


def test_a_class_of_the_wrong_kind_is_refused(plugin_module: str) -> None:
    with pytest.raises(TypeError, match="ComputeAdapter subclass"):
        register_compute("bad", FsspecStorage)  # type: ignore[arg-type]
    register_compute("late-bad", "deepforge_panel.adapters.storage.fsspec_storage:FsspecStorage")
    with pytest.raises(TypeError, match="not a ComputeAdapter subclass"):
        get_compute_class("late-bad")


def test_missing_optional_dependency_gives_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"df_needs_dep_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("import df_surely_not_installed.sub\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    register_compute("needy", f"{name}:NeedyCompute")
    with pytest.raises(ImportError) as info:
        get_compute_class("needy")
    message = str(info.value)
    assert "'needy'" in message and "pip install 'df_surely_not_installed'" in message
    register_compute("hinted", f"{name}:NeedyCompute", hint="Install the cluster extra.")
    with pytest.raises(ImportError, match=r"Install the cluster extra\."):
        get_compute_class("hinted")
    sys.modules.pop(name, None)


def test_importing_adapters_imports_no_optional_dependency(tmp_path: Path) -> None:
    """The adapters load neither their optional dependencies nor the core (arrows point down)."""
    code = (
        "import sys, deepforge_panel.adapters\n"
        "heavy = [m for m in ('dask', 'distributed', 's3fs', 'botocore') if m in sys.modules]\n"
        "core = [m for m in sys.modules if m.startswith('deepforge_panel.')\n"
        "        and not m.startswith(('deepforge_panel.adapters', 'deepforge_panel.registry'))]\n"
        "print(','.join(heavy + core))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
