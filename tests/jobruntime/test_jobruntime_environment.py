"""The job side of per-operation environments: build once, reuse, never leave one half-built (no package index
needed: these environments have no requirements, or fail before installing any)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deepforge_panel.jobruntime.deepforge import environment
from deepforge_panel.jobruntime.deepforge.environment import MARKER, BuildError, ensure


def _spec(key: str = "k0", python: str | None = None) -> dict[str, object]:
    return {"key": key, "requirements": [], "python": python}


def test_an_environment_is_built_once_then_reused(tmp_path: Path) -> None:
    said: list[str] = []
    python = ensure(_spec(), tmp_path / "k0", said.append)
    assert python == tmp_path / "k0" / "bin" / "python" and (tmp_path / "k0" / MARKER).is_file()
    assert said[0].startswith("building environment k0") and said[-1].startswith("built environment k0")
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True)
    assert Path(prefix.stdout.strip()) == tmp_path / "k0"
    no_numpy = subprocess.run([python, "-c", "import numpy"], capture_output=True, text=True)
    assert no_numpy.returncode != 0, "isolated from the workbench's packages"

    said.clear()
    assert ensure(_spec(), tmp_path / "k0", said.append) == python
    assert said == [f"reusing environment k0 ({tmp_path / 'k0'})"]


def test_what_a_killed_build_left_is_cleared_and_rebuilt(tmp_path: Path) -> None:
    (tmp_path / ".tmp-k1-12345" / "lib").mkdir(parents=True)  # a build killed midway
    (tmp_path / "k1" / "bin").mkdir(parents=True)  # there, but never completed: no marker
    said: list[str] = []
    ensure(_spec("k1"), tmp_path / "k1", said.append)
    assert said[0].startswith("building environment k1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".k1.lock", "k1"]
    assert (tmp_path / "k1" / MARKER).is_file()


def test_an_environment_that_cannot_be_built_says_why_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")  # no download attempt: the version is simply not here
    with pytest.raises(BuildError, match=r"environment k2 could not be built: uv failed creating it \(exit code \d+\)"):
        ensure(_spec("k2", python="2.1"), tmp_path / "k2", lambda text: None)
    with pytest.raises(BuildError) as failed:
        ensure(_spec("k2", python="2.1"), tmp_path / "k2", lambda text: None)
    assert "2.1" in str(failed.value), "the installer's message names the version at fault"
    assert [p.name for p in tmp_path.iterdir()] == [".k2.lock"]


def test_without_uv_the_job_is_told_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uv", None)  # import uv fails
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    with pytest.raises(BuildError, match=r"uv is not installed for .*\(pip install uv\)"):
        ensure({"key": "k3", "requirements": ["pyjokes"], "python": None}, tmp_path / "k3", lambda text: None)
    assert [p.name for p in tmp_path.iterdir()] == [".k3.lock"]
