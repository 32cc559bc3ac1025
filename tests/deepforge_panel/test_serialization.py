"""Job serialization: pickle by default, serializers registered by libraries or, as in DeepForge, by class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pytest

from deepforge_panel.jobruntime.deepforge import serialization
from tests.deepforge_panel.helpers import new_project, run_make_then_measure


class Point:
    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y


class Other(Point):
    """A subclass: DeepForge's serializers are by exact class, so it is pickled."""


def _dump(point: Point, outfile: IO[bytes]) -> None:
    outfile.write(json.dumps([point.x, point.y]).encode())


def _load(infile: IO[bytes]) -> Point:
    return Point(*json.loads(infile.read()))


def test_a_class_registered_the_deepforge_way_is_written_with_its_dump_and_read_with_its_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serialization, "_registry", [])  # this process's registry, as a fresh job's
    serialization.register(Point, _dump, _load)
    data = serialization.dumps(Point(1.5, -2))
    assert data.endswith(b"[1.5, -2]") and f"{__name__}.Point".encode() in data
    back = serialization.loads(data)
    assert isinstance(back, Point) and (back.x, back.y) == (1.5, -2)
    assert b"pickle" in serialization.dumps(Other(0, 0)).split(b"\n")[0], "only the exact class"
    with pytest.raises(TypeError, match="register\\(cls, dump, load\\)"):
        serialization.register("only a name")


# DeepForge operations register their serializers at import; both jobs of this pipeline do.
SHARED = """
import json
from deepforge import serialization

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

def dump(point, outfile):
    outfile.write(json.dumps({"x": point.x, "y": point.y, "by": "dump"}).encode())

def load(infile):
    data = json.load(infile)
    point = Point(data["x"], data["y"])
    point.by = data["by"]
    return point

serialization.register(Point, dump, load)
"""
MAKE = (
    SHARED
    + """
class MakePoint:
    def execute(self):
        point = Point(3, 4)
        return point
"""
)
MEASURE = (
    SHARED
    + """
class Measure:
    def execute(self, point):
        length = (point.x ** 2 + point.y ** 2) ** 0.5, point.by
        return length
"""
)


def test_operations_written_for_deepforge_register_serializers_that_jobs_use(tmp_path: Path) -> None:
    project = new_project(tmp_path)

    execution, store = run_make_then_measure(project, tmp_path, MAKE, MEASURE)

    assert execution.status == "succeeded", execution.error
    made = project.artifacts.get(execution.job("make").outputs["point"])
    assert store.get(made.url).endswith(b'{"x": 3, "y": 4, "by": "dump"}'), "stored with the registered dump"
    length: Any = serialization.loads(store.get(project.artifacts.get(execution.job("measure").outputs["length"]).url))
    assert length == (5.0, "dump"), "read back with the registered load in the next job"
