"""The one registry: lazy paths, clobber protection, and entry points from a real (throwaway) distribution."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import deepforge_panel.adapters.compute.registry as compute_registry
import deepforge_panel.adapters.storage.registry as storage_registry
import deepforge_panel.libraries.base as library_registry
from deepforge_panel.adapters.compute import ComputeAdapter, Emit, JobSpec, available_compute, compute, register_compute
from deepforge_panel.adapters.storage import available_storage, storage
from deepforge_panel.libraries import available_libraries, library
from deepforge_panel.registry import Registry


class NullCompute(ComputeAdapter):
    """Runs nothing; a stand-in to register."""

    name = "null"

    async def run(self, job: JobSpec, emit: Emit) -> int:
        return 0


PLUGIN_MODULE = """
from deepforge_panel.adapters.compute import ComputeAdapter
from deepforge_panel.adapters.storage import FsspecStorage
from deepforge_panel.libraries import Library


class PluginCompute(ComputeAdapter):
    name = "plugin"

    async def run(self, job, emit):
        return 0


class PluginStorage(FsspecStorage):
    def __init__(self, url, **options):
        super().__init__("memory://" + url.split("://", 1)[1], **options)


class PluginLibrary(Library):
    name = "plugin-notes"
    root = "plugin_notes"

    def catalog(self):
        return {"kinds": ["note"]}

    def resources(self, project):
        return []

    def generate(self, project, resource_id):
        return "def build():\\n    return None\\n"
"""


@dataclass(frozen=True)
class Distribution:
    """A throwaway installed distribution: a folder to put on ``sys.path``, its name and its module."""

    folder: Path
    name: str
    module: str


def make_distribution(folder: Path, groups: dict[str, dict[str, str]], code: str = PLUGIN_MODULE) -> Distribution:
    """Write a module and a ``*.dist-info`` declaring ``groups`` of entry points ("{module}" is filled in)."""
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    module, name = f"df_plugin_{token}", f"df-plugin-{token}"
    (folder / f"{module}.py").write_text(textwrap.dedent(code))
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    sections = []
    for group, entries in groups.items():
        lines = "".join(f"{key} = {value.format(module=module)}\n" for key, value in entries.items())
        sections.append(f"[{group}]\n{lines}")
    (info / "entry_points.txt").write_text("\n".join(sections))
    return Distribution(folder, name, module)


GROUPS = {
    "deepforge_panel.compute": {
        "plugin": "{module}:PluginCompute",
        "null": "{module}:PluginCompute",
        "missing-module": "df_surely_not_installed_module:Nope",
        "missing-class": "{module}:NoSuchClass",
    },
    "deepforge_panel.storage": {"plugstore": "{module}:PluginStorage"},
    "deepforge_panel.libraries": {"plugin-notes": "{module}:PluginLibrary"},
}


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Distribution]:
    """A distribution with entry points in all three groups, on ``sys.path``, seen by fresh copies of the registries."""
    dist = make_distribution(tmp_path / "site", GROUPS)
    monkeypatch.syspath_prepend(str(dist.folder))
    for module in (compute_registry, storage_registry, library_registry):
        fresh = module._registry.copy()
        fresh.reload_entry_points()
        monkeypatch.setattr(module, "_registry", fresh)
    monkeypatch.setattr(library_registry, "_instances", {})
    yield dist
    sys.modules.pop(dist.module, None)


def test_registry_copy_is_independent() -> None:
    original: Registry[ComputeAdapter] = Registry("compute adapter", ComputeAdapter)
    original.register("null", NullCompute)
    twin = original.copy()
    twin.register("other", NullCompute)
    assert original.names() == ["null"] and twin.names() == ["null", "other"]


def test_unregister_forgets_a_name() -> None:
    registry: Registry[ComputeAdapter] = Registry("compute adapter", ComputeAdapter)
    registry.register("null", NullCompute)
    registry.unregister("null")
    registry.unregister("never-there")
    assert "null" not in registry
    with pytest.raises(ValueError, match="Unknown compute adapter 'null'; known: none"):
        registry.get("null")


def test_unknown_library_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"Unknown library 'pytorch'; known: .*'keras'"):
        library("pytorch")


def test_entry_points_of_all_three_groups_are_found_and_imported_lazily(plugin: Distribution) -> None:
    assert "plugin" in available_compute()
    assert "plugstore" in available_storage()
    assert "plugin-notes" in available_libraries()
    assert plugin.module not in sys.modules, "listing must not import a plugin"

    adapter = compute("plugin")
    assert type(adapter).__name__ == "PluginCompute"
    assert type(storage("plugstore://somewhere/root")).__name__ == "PluginStorage"
    notes = library("plugin-notes")
    assert notes.root == "plugin_notes" and library("plugin-notes") is notes
    assert compute_registry._registry.origin("plugin") == (
        f"entry point 'plugin' in group 'deepforge_panel.compute' of distribution {plugin.name!r} 1.0"
    )
    assert compute_registry._registry.origin("local") is None


def test_a_broken_entry_point_names_its_distribution_and_spares_the_others(plugin: Distribution) -> None:
    with pytest.raises(ImportError, match=rf"compute adapter 'missing-module' .*distribution '{plugin.name}'") as info:
        compute("missing-module")
    assert "pip install 'df_surely_not_installed_module'" in str(info.value)
    with pytest.raises(ImportError, match=rf"compute adapter 'missing-class' .*distribution '{plugin.name}'"):
        compute("missing-class")
    assert type(compute("plugin")).__name__ == "PluginCompute"
    assert type(compute("local")).__name__ == "LocalCompute"


def test_an_explicit_registration_wins_over_an_entry_point(plugin: Distribution) -> None:
    register_compute("null", NullCompute)  # after the entry points were read (the fixture listed nothing yet)
    assert type(compute("null")) is NullCompute
    assert compute_registry._registry.origin("null") is None

    fresh = compute_registry._registry.copy()
    fresh.reload_entry_points()
    fresh.register("plugin", NullCompute)  # before they are read
    assert fresh.get("plugin") is NullCompute and fresh.origin("plugin") is None


def test_a_fresh_interpreter_finds_the_entry_points(tmp_path: Path) -> None:
    """As a third party would ship it: nothing registered in code, only the distribution on the path."""
    dist = make_distribution(tmp_path / "site", GROUPS)
    code = textwrap.dedent(
        f"""
        import json, sys
        from deepforge_panel.adapters.compute import available_compute, compute
        from deepforge_panel.adapters.storage import storage
        from deepforge_panel.libraries import library
        seen = {{"listed": "plugin" in available_compute(), "imported_early": {dist.module!r} in sys.modules}}
        seen["compute"] = type(compute("plugin")).__name__
        seen["storage"] = type(storage("plugstore://bucket/root")).__name__
        seen["library"] = library("plugin-notes").root
        try:
            compute("missing-module")
        except ImportError as exc:
            seen["broken"] = str(exc)
        print(json.dumps(seen))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"PYTHONPATH": str(dist.folder), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen.pop("broken").startswith("compute adapter 'missing-module' (df_surely_not_installed_module:Nope, ")
    assert dist.name in proc.stdout
    assert seen == {
        "listed": True,
        "imported_early": False,
        "compute": "PluginCompute",
        "storage": "PluginStorage",
        "library": "plugin_notes",
    }
