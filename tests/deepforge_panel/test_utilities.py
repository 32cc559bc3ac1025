"""Utility modules and init code: every job imports ``utils.<name>`` and runs the init code, as in DeepForge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.utilities import UtilityError
from tests.deepforge_panel.helpers import new_project, run_make_then_measure

SHAPES = """
import json


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def dump(point, outfile):
    outfile.write(json.dumps([point.x, point.y, "by utils"]).encode())


def load(infile):
    x, y, _ = json.load(infile)
    return Point(x, y)
"""
INIT = """from deepforge import serialization
from utils.shapes import Point, dump, load

serialization.register(Point, dump, load)
"""
MAKE = """
from utils.shapes import Point

class MakePoint:
    def execute(self):
        point = Point(6, 8)
        return point
"""
MEASURE = """
from utils.shapes import Point

class Measure:
    def execute(self, point):
        length = (point.x ** 2 + point.y ** 2) ** 0.5 if isinstance(point, Point) else None
        return length
"""


def test_jobs_import_the_projects_utilities_and_run_its_init_code(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    project.utilities.add("shapes", SHAPES)
    project.utilities.set_init_code(INIT)

    execution, store = run_make_then_measure(project, tmp_path, MAKE, MEASURE)

    assert execution.status == "succeeded", execution.error
    point = project.artifacts.get(execution.job("make").outputs["point"])
    assert store.get(point.url).endswith(b'[6, 8, "by utils"]'), "written by the serializer the init code registered"
    length = project.artifacts.get(execution.job("measure").outputs["length"])
    assert serialization.loads(store.get(length.url)) == 10.0, "read back as a utils.shapes.Point"
    folder = tmp_path / "jobs" / execution.id / execution.job("make").id
    assert (folder / "utils" / "shapes.py").read_text() == SHAPES
    rerun = subprocess.run([sys.executable, "main.py"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr  # the job folder still runs by hand


def test_utility_names_are_module_names_and_edits_merge(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    for bad in ("../escape", "class", "two words", "__init__", ""):
        with pytest.raises(UtilityError, match="a utility module's name is a Python identifier"):
            project.utilities.add(bad)
    helpers = project.utilities.add("helpers", "def twice(x):\n    return 2 * x\n")
    with pytest.raises(UtilityError, match="already has a utility module named 'helpers'"):
        project.utilities.add("helpers")
    project.utilities.set_code(helpers, "def twice(x):\n    return x + x\n")
    assert project.utilities.modules() == {"helpers": "def twice(x):\n    return x + x\n"}
    assert project.utilities.init_code == ""
    project.utilities.set_init_code("import os\n")
    assert [u.name for u in project.utilities.all()] == [
        "init",
        "helpers",
    ] and "init" not in project.utilities.modules()
    project.utilities.remove(helpers)
    assert project.utilities.modules() == {}
