"""What a job imports ahead: the runtime always, the operation's imports anywhere, other code's imports at load."""

from __future__ import annotations

from deepforge_panel.preload import ALWAYS, imported_packages, job_preload

OPERATION = """
import json
import numpy as np
from sklearn.model_selection import train_test_split
from . import sibling

class Train:
    def execute(self, data):
        import keras
        from matplotlib import pyplot
        return data
"""

INIT = """
import os
import pandas

def save(model):
    import tensorflow  # only when a model is saved: not every job's
"""


def test_the_runtime_comes_first_then_the_operations_imports_in_order() -> None:
    assert job_preload(OPERATION) == (
        *ALWAYS,
        "numpy",
        "sklearn.model_selection",
        "keras",
        "matplotlib",
    )


def test_loaded_code_counts_only_what_it_imports_when_loaded() -> None:
    preload = job_preload("class Noop:\n    def execute(self):\n        return 1\n", [INIT])
    assert preload == (*ALWAYS, "pandas")


def test_the_standard_library_relative_imports_and_unknown_packages_are_left_to_the_job() -> None:
    code = "import json, mypackage.sub\nfrom .local import thing\nimport torch.nn\n"
    assert job_preload(code) == (*ALWAYS, "torch.nn")


def test_code_that_does_not_parse_adds_nothing() -> None:
    assert job_preload("def broken(:\n", ["import numpy\nclass (:"]) == ALWAYS


def test_imported_packages_are_the_top_level_names_of_every_import_anywhere() -> None:
    assert imported_packages([OPERATION, INIT]) == {
        "json",
        "numpy",
        "sklearn",
        "keras",
        "matplotlib",
        "os",
        "pandas",
        "tensorflow",
    }
