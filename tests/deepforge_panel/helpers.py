"""Small operations and projects shared by the core tests."""

from __future__ import annotations

from pathlib import Path

from deepforge_panel.crdt import Home
from deepforge_panel.project import Project

SOURCE = """
class Source:
    def __init__(self, value: int = 1):
        self.value = value

    def execute(self):
        data = self.value
        return data
"""

ADD = """
class Add:
    def __init__(self, amount: int = 1):
        self.amount = amount

    def execute(self, data):
        result = data + self.amount
        return result
"""

PAIR = """
class Pair:
    def execute(self, left, right):
        total = left + right
        return total
"""


def new_project(tmp_path: Path, name: str = "test") -> Project:
    return Project.open(Home(tmp_path / "home").create(name))
