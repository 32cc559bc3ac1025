"""``notebook import|export|list``, run as real processes on a fresh home."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import cli as run_cli

SCRIPT = """# %% [markdown]
# # Explore
#
# A first look.

# %%
import numpy as np

data = np.arange(10)

# %% Summary
print(data.mean())
"""


cli = functools.partial(run_cli, timeout=120)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    Workspace(home, examples=False).create("lab").store.close()
    return home


def test_import_list_export_round_trip(tmp_path: Path, home: Path) -> None:
    source = tmp_path / "explore.py"
    source.write_text(SCRIPT, encoding="utf-8")
    done = cli("notebook", "import", "lab", str(source), home=home)
    assert done.returncode == 0, done.stderr
    assert "as notebook 'explore' (3 cells)" in done.stdout

    project = Workspace(home, examples=False).open("lab")
    notebook = project.notebooks.find("explore")
    assert [(c.kind, c.code) for c in notebook.cells] == [
        ("markdown", "# Explore\n\nA first look."),
        ("code", "import numpy as np\n\ndata = np.arange(10)"),
        ("code", "print(data.mean())"),
    ]
    assert project.log()[0].message == "Import notebook explore from explore.py"
    assert project.store is not None
    project.store.close()

    listing = cli("notebook", "list", "lab", home=home)
    assert listing.returncode == 0 and listing.stdout.startswith("explore\t3 cells\tadapter local"), listing.stdout

    out = tmp_path / "out.py"
    out.write_text("old content", encoding="utf-8")
    exported = cli("notebook", "export", "lab", "explore", "--out", str(out), home=home)
    assert exported.returncode == 0, exported.stderr
    assert out.read_text(encoding="utf-8") == SCRIPT.replace("# %% Summary", "# %%")


def test_import_takes_a_name_and_refuses_a_taken_one(tmp_path: Path, home: Path) -> None:
    source = tmp_path / "explore.py"
    source.write_text(SCRIPT, encoding="utf-8")
    assert cli("notebook", "import", "lab", str(source), home=home).returncode == 0
    again = cli("notebook", "import", "lab", str(source), home=home)
    assert again.returncode == 2
    assert "already has a notebook named 'explore': choose another with --name" in again.stderr
    assert "Traceback" not in again.stderr
    named = cli("notebook", "import", "lab", str(source), "--name", "second", home=home)
    assert named.returncode == 0, named.stderr
    listing = cli("notebook", "list", "lab", home=home)
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == ["explore", "second"]


def test_bad_requests_are_explained(tmp_path: Path, home: Path) -> None:
    empty = cli("notebook", "list", "lab", home=home)
    assert empty.returncode == 0 and "lab has no notebooks" in empty.stdout

    missing_file = cli("notebook", "import", "lab", str(tmp_path / "nope.py"), home=home)
    assert missing_file.returncode == 2 and "no file" in missing_file.stderr and "nope.py" in missing_file.stderr

    missing_folder = cli("notebook", "export", "lab", "x", "--out", str(tmp_path / "no" / "where.py"), home=home)
    assert missing_folder.returncode == 2
    assert "folder" in missing_folder.stderr and "does not exist" in missing_folder.stderr

    missing_notebook = cli("notebook", "export", "lab", "ghost", "--out", str(tmp_path / "g.py"), home=home)
    assert missing_notebook.returncode == 2 and "no notebook 'ghost'" in missing_notebook.stderr
    assert not (tmp_path / "g.py").exists()

    missing_project = cli("notebook", "list", "nowhere", home=home)
    assert missing_project.returncode == 2 and "nowhere" in missing_project.stderr
    for result in (missing_file, missing_folder, missing_notebook, missing_project):
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("compute", ["local", "dask"])
def test_run_prints_each_cells_output_and_fails_on_a_failing_cell(home: Path, tmp_path: Path, compute: str) -> None:
    good = tmp_path / "good.py"
    good.write_text(SCRIPT + "\n# %%\ndata.sum()\n")
    assert cli("notebook", "import", "lab", str(good), home=home).returncode == 0
    done = cli("notebook", "run", "lab", "good", "--compute", compute, home=home)
    assert done.returncode == 0, done.stderr
    assert "# %% cell 2 of 3: done\n4.5\n" in done.stdout
    assert done.stdout.split("# %% cell 3 of 3: done\n")[1].startswith(("45\n", "np.int64(45)\n"))
    assert done.stdout.rstrip().endswith("all 3 cells ran")

    bad = tmp_path / "bad.py"
    bad.write_text("# %%\nx = 1\n\n# %%\ny = x / 0\n\n# %%\nprint('never')\n")
    assert cli("notebook", "import", "lab", str(bad), home=home).returncode == 0
    failed = cli("notebook", "run", "lab", "bad", "--compute", compute, home=home)
    assert failed.returncode == 1
    assert "ZeroDivisionError" in failed.stdout and "line 1" in failed.stdout
    assert "never" not in failed.stdout and "stopped at cell 2: error" in failed.stderr


def test_the_example_notebook_runs_and_saves_a_selection_with_its_provenance(tmp_path: Path) -> None:
    home = tmp_path / "example-home"  # a fresh home: the CLI makes the example project in it
    done = cli("notebook", "run", "digits", "explore", home=home)
    assert done.returncode == 0, done.stderr
    assert "(600, 64)" in done.stdout and "[figure: digit 0, digit 1, digit 2" in done.stdout
    assert "digits mistaken" in done.stdout and "[explorer: digits, 600 points, t-SNE embedding]" in done.stdout
    assert "saved artifact 'digit_ones'" in done.stdout
    project = Workspace(home).open("digits")
    try:
        (saved,) = [a for a in project.artifacts.all() if a.name == "digit_ones"]
        assert saved.provenance is not None and saved.provenance["kind"] == "ImplicitOperation"
        assert len(saved.provenance["cells"]) == 2, "the cell that saved it and the one that loaded the data"
    finally:
        project.close()
