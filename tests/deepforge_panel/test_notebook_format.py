from __future__ import annotations

from deepforge_panel.notebook_format import from_percent, to_percent
from deepforge_panel.notebooks import Cell, CellId, Notebook, NotebookId

JUPYTEXT = """# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.16.1
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Digits
#
# Load the data and look at it.

# %%
import numpy as np

data = np.arange(10)


# %% Clean it
def clean(values):
    return values[values > 2]


cleaned = clean(data)

# %% tags=["parameters"]
threshold = 2

# %% [markdown] slideshow={"slide_type": "slide"}
# Done.
"""


def notebook(*cells: tuple[str, str]) -> Notebook:
    return Notebook(
        NotebookId("nb1"),
        "n",
        "local",
        False,
        [Cell(CellId(f"c{i}"), kind, code) for i, (kind, code) in enumerate(cells)],
    )


def test_reads_a_file_as_jupytext_writes_it() -> None:
    cells = from_percent(JUPYTEXT)
    assert [kind for kind, _ in cells] == ["code", "markdown", "code", "code", "code", "markdown"]
    assert cells[0][1].startswith("# ---\n# jupyter:") and cells[0][1].endswith("# ---")
    assert cells[1] == ("markdown", "# Digits\n\nLoad the data and look at it.")
    assert cells[2] == ("code", "import numpy as np\n\ndata = np.arange(10)")
    assert cells[3] == (
        "code",
        "def clean(values):\n    return values[values > 2]\n\n\ncleaned = clean(data)",
    ), "the title after the marker is dropped, blank lines inside the cell are kept"
    assert cells[4] == ("code", "threshold = 2")
    assert cells[5] == ("markdown", "Done.")


def test_round_trip_is_exact_for_code_cells() -> None:
    original = notebook(
        ("code", "import numpy as np\n\n\nx = np.zeros(3)\n    \nif x.any():\n\n    print(x)"),
        ("markdown", "# Title\n\nSome *text*.\n  indented"),
        ("code", ""),
        ("code", "\n# leading blank line kept\ny = 1"),
        ("code", "z = 'trailing whitespace goes'   \n\n\n"),
    )
    text = to_percent(original)
    cells = from_percent(text)
    assert cells == [(c.kind, c.code.rstrip()) for c in original.cells]
    again = notebook(*cells)
    assert to_percent(again) == text


def test_writes_what_editors_read() -> None:
    text = to_percent(notebook(("code", "a = 1\n\nb = 2"), ("markdown", "# Head\n\ntext")))
    assert text == "# %%\na = 1\n\nb = 2\n\n# %% [markdown]\n# # Head\n#\n# text\n"


def test_text_before_the_first_marker() -> None:
    assert from_percent("x = 1\n\n# %%\ny = 2\n") == [("code", "x = 1"), ("code", "y = 2")]
    assert from_percent("\n  \n# %%\ny = 2\n") == [("code", "y = 2")]
    assert from_percent("just code\nno markers\n") == [("code", "just code\nno markers")]
    assert from_percent("") == [] and to_percent(notebook()) == ""


def test_marker_variants() -> None:
    text = "#%%\na = 1\n# %%%\nb = 2\n# %% [md]\n# note\n"
    assert from_percent(text) == [("code", "a = 1\n# %%%\nb = 2"), ("markdown", "note")]
