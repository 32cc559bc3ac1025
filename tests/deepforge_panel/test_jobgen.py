"""Job folders from names anyone may have chosen: the entry script still parses, nothing lands outside the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepforge_panel.interface import parse_interface
from deepforge_panel.jobgen import render_main, write_job_folder

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
