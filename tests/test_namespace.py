"""Everything installs under the one ``deepforge_panel`` namespace, from outside the repository too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAPPED = ("crdt", "adapters", "libraries", "components", "apps")
"""Top-level folders of the repository that install as ``deepforge_panel.<folder>``."""


def _outside_env() -> dict[str, str]:
    """This environment without anything that would put the repository on ``sys.path``."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}


def test_only_the_namespace_imports_from_outside_the_repository(tmp_path: Path) -> None:
    """Bare ``crdt``/``adapters``/... fail; every module of ``deepforge_panel`` imports, each under one name."""
    script = f"""
import importlib, json, pkgutil, sys
bare = {{}}
for name in {MAPPED!r}:
    try:
        importlib.import_module(name)
        bare[name] = "imported"
    except ImportError as exc:
        bare[name] = type(exc).__name__
failed = {{}}
# The mapped folders are found by the install's finder, not under deepforge_panel/: walk each.
for top in ["deepforge_panel", *("deepforge_panel." + name for name in {MAPPED!r})]:
    try:
        package = importlib.import_module(top)
    except Exception as exc:
        failed[top] = repr(exc)
        continue
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if ".jobruntime.deepforge" in info.name:
            continue  # copied into job folders and imported there as the top-level `deepforge`
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed[info.name] = repr(exc)
twice = sorted(m for m in sys.modules if m.split(".")[0] in {MAPPED!r})
print(json.dumps({{"bare": bare, "failed": failed, "twice": twice,
                  "walked": sorted(m for m in sys.modules if m.startswith("deepforge_panel."))}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=_outside_env(), capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bare"] == {name: "ModuleNotFoundError" for name in MAPPED}
    assert report["failed"] == {}
    assert report["twice"] == [], "a folder was imported under its bare name as well"
    for name in MAPPED:
        assert f"deepforge_panel.{name}" in report["walked"]
    assert "deepforge_panel.libraries.keras.codegen" in report["walked"]


@pytest.mark.slow
def test_a_built_wheel_holds_only_the_namespace(tmp_path: Path) -> None:
    """Built from the tracked files alone, the wheel holds ``deepforge_panel/`` and every source module."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    if not tracked:
        pytest.skip("not a git checkout")
    source = tmp_path / "src"
    for rel in tracked:
        if (REPO / rel).is_file():
            target = source / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((REPO / rel).read_bytes())
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = out.glob("deepforge_panel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"deepforge_panel", next(t for t in tops if t.endswith(".dist-info"))}
    expected = set()
    for rel in tracked:
        parts = rel.split("/")
        if not rel.endswith(".py") or parts[0] not in (*MAPPED, "deepforge_panel"):
            continue
        expected.add(rel if parts[0] == "deepforge_panel" else f"deepforge_panel/{rel}")
    assert expected - set(names) == set(), "source modules missing from the wheel (pyproject's package list)"
    assert "deepforge_panel/libraries/keras/catalog.json" in names
    assert "deepforge_panel/jobruntime/deepforge/runtime.py" in names
