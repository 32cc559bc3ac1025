"""Job folders from names anyone may have chosen: the entry script still parses, nothing lands outside the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deepforge_panel.interface import parse_interface
from deepforge_panel.jobgen import _runtime_copy, render_main, runtime_files, write_job_folder

CODE = """
class Echo:
    def __init__(self, model=None):
        self.model = model

    def execute(self, data):
        result = data
        return result
"""


@pytest.mark.parametrize("name", ['a"""b', 'end"', "back\\\\slash", "nul\x00", "new\nline", "'''", "x" * 300])
def test_the_entry_script_parses_whatever_the_job_is_called(name: str) -> None:
    script = render_main(name, parse_interface(CODE), {"data"}, f"pipeline {name!r}, execution e1, commit c1")
    compile(script, "main.py", "exec")
    assert script.startswith('"""Job ')


@pytest.mark.parametrize("kind", ["references", "utilities"])
def test_reference_and_utility_names_never_leave_the_job_folder(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "jobs" / "j1"
    with pytest.raises(ValueError, match=r"utility names are Python identifiers .*'\.\./\.\./escape'"):
        write_job_folder(  # type: ignore[misc]
            folder,
            job_name="echo",
            code=CODE,
            interface=parse_interface(CODE),
            attributes={},
            inputs={},
            storage_url=(tmp_path / "artifacts").as_uri(),
            **{kind: {"../../escape": "def build(): pass\n"}},
        )
    assert not folder.exists() and not (tmp_path / "escape.py").exists()


def _job(folder: Path, tmp_path: Path) -> Path:
    return write_job_folder(
        folder,
        job_name="echo",
        code=CODE,
        interface=parse_interface(CODE),
        attributes={},
        inputs={},
        storage_url=(tmp_path / "artifacts").as_uri(),
        runtime_copy=tmp_path / "jobs" / ".runtime",
    )


def test_job_folders_link_one_read_only_copy_of_the_runtime(tmp_path: Path) -> None:
    first, second = (_job(tmp_path / "jobs" / name, tmp_path) for name in ("j1", "j2"))
    expected = runtime_files()
    for folder in (first, second):
        for relative, data in expected.items():
            path = folder / "deepforge" / relative
            assert path.read_bytes() == data
            assert path.stat().st_nlink == 3  # the copy and both job folders
            assert not path.stat().st_mode & 0o222
    assert os.path.samefile(first / "deepforge" / "runtime.py", second / "deepforge" / "runtime.py")
    assert {p.name for p in first.iterdir()} >= {"main.py", "operation.py", "job.json", "deepforge"}


def test_a_changed_copy_of_the_runtime_is_replaced_not_linked(tmp_path: Path) -> None:
    first = _job(tmp_path / "jobs" / "j1", tmp_path)
    changed = first / "deepforge" / "runtime.py"
    changed.chmod(0o644)
    changed.write_text("# edited by hand in a job folder: the copy it links to changed with it\n")
    _runtime_copy.cache_clear()  # a new process: the copy is checked again
    second = _job(tmp_path / "jobs" / "j2", tmp_path)
    assert (second / "deepforge" / "runtime.py").read_bytes() == runtime_files()["runtime.py"]
    assert changed.read_text().startswith("# edited by hand")  # the first job keeps what it was given
