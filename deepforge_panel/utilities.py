"""A project's utility modules and init code: Python every job of the project gets, as DeepForge gives it.

Utility modules (DeepForge's "MyUtilities") are importable in every job as ``utils.<name>``; the init code
(DeepForge's root-level code, typically registering serializers) runs in every job before its operation
is imported. Both are shared Text in the ``utilities`` root, so two people edit them and merge:
``id -> {name, kind: "module" | "init", code (Text)}``; the init code is the record with id ``init``.
"""

from __future__ import annotations

import keyword
import time
from dataclasses import dataclass
from typing import Final

from pycrdt import Map, Text

from deepforge_panel.crdt import new_id, splice_text
from deepforge_panel.errors import ProjectError
from deepforge_panel.views import RootView

INIT: Final = "init"
"""The id (and name) of the init code's record."""


class UtilityError(ProjectError):
    """A utility module refused (a name that is no module name, or taken); nothing was changed."""


@dataclass(frozen=True)
class Utility:
    id: str
    name: str
    kind: str
    code: str


def check_module_name(name: object) -> str:
    """``name`` if it may name a utility module (``utils.<name>``, a file ``utils/<name>.py``); else why not."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__"):
        raise UtilityError(
            f"a utility module's name is a Python identifier (letters, digits and _, not a keyword), not {name!r}"
        )
    return name


class UtilitiesView(RootView[Utility]):
    """The ``utilities`` root: the project's utility modules and its init code."""

    root = "utilities"
    kind = "utility module"

    def get(self, utility_id: str) -> Utility:
        record = self.record(utility_id)
        return Utility(utility_id, str(record["name"]), str(record.get("kind") or "module"), str(record["code"]))

    def sort_key(self, item: Utility) -> tuple[bool, str]:
        return (item.kind != INIT, item.name)

    def modules(self) -> dict[str, str]:
        """Module name -> code of every utility module (not the init code)."""
        return {u.name: u.code for u in self.all() if u.kind == "module"}

    @property
    def init_code(self) -> str:
        """The code every job runs before importing its operation ("" if none)."""
        return self.get(INIT).code if INIT in self.ids() else ""

    def set_init_code(self, code: str) -> None:
        with self.project.transaction():
            if INIT not in self.ids():
                self._map[INIT] = Map({"name": INIT, "kind": INIT, "code": Text(code), "created": time.time()})
            else:
                splice_text(self.record(INIT)["code"], code)

    def add(self, name: str, code: str = "") -> str:
        """A new utility module ``utils.<name>``; its id."""
        check_module_name(name)
        if name in self.modules():
            raise UtilityError(f"the project already has a utility module named {name!r}")
        utility_id = new_id("u")
        with self.project.transaction():
            self._map[utility_id] = Map({"name": name, "kind": "module", "code": Text(code), "created": time.time()})
        return utility_id

    def set_code(self, utility_id: str, code: str) -> None:
        with self.project.transaction():
            splice_text(self.record(utility_id)["code"], code)

    def remove(self, utility_id: str) -> None:
        self.record(utility_id)
        with self.project.transaction():
            del self._map[utility_id]
