"""Operations in a project: Python code as shared Text, with the interface read from it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NewType

from pycrdt import Map, Text

from deepforge_panel.crdt import dumps, loads, new_id, splice_text
from deepforge_panel.environments import Environment
from deepforge_panel.errors import ProjectError
from deepforge_panel.interface import Interface, InterfaceError, init_parameters, parse_interface
from deepforge_panel.names import check_name
from deepforge_panel.views import RootView

OperationId = NewType("OperationId", str)

BLANK_OPERATION = '''class {name}:
    """Describe what this operation does."""

    def __init__(self, factor: float = 1.0):
        self.factor = factor

    def execute(self, data):
        result = data
        return result
'''


@dataclass(frozen=True)
class Operation:
    """A snapshot of one operation: its code, its last good interface and any current error."""

    id: OperationId
    name: str
    code: str
    interface: Interface | None
    error: InterfaceError | None
    environment: Environment | None = None
    """What its jobs run in (see :meth:`OperationsView.set_environment`); None: the workbench's interpreter."""


splice = splice_text
"""Replace a Text's content by editing only the changed middle, so concurrent edits merge (``crdt.splice_text``)."""


class OperationsView(RootView[Operation]):
    """The ``operations`` root: id -> {name, code (Text), references (JSON: the ``__init__`` parameters that are
    references), environment (JSON, absent when it runs in the workbench's interpreter), interface (JSON), error
    (JSON)}."""

    root = "operations"
    kind = "operation"

    def get(self, op_id: str) -> Operation:
        record = self.record(op_id)
        interface = loads(record.get("interface"))
        error = loads(record.get("error"))
        return Operation(
            id=OperationId(op_id),
            name=record["name"],
            code=str(record["code"]),
            interface=Interface.from_dict(interface) if interface else None,
            error=InterfaceError(error["message"], error["line"], error["column"]) if error else None,
            environment=self.environment_of(op_id),
        )

    def add(self, code: str | None = None, name: str | None = None, references: Sequence[str] = ()) -> OperationId:
        """A new operation from ``code`` (or a blank template); its name is its class name. Its ``__init__``
        parameters named in ``references`` are references (see :meth:`set_references`)."""
        if name is not None:
            check_name("operation", name)
            if code is None and not name.isidentifier():
                raise ProjectError(f"operation name {name!r} is not allowed: a new operation's name is a class name")
        if code is None:
            code = BLANK_OPERATION.format(name=name or "NewOperation")
        if references:
            _check_references(name or "NewOperation", code, references)
        op_id = OperationId(new_id("op"))
        with self.project.transaction():
            self._map[op_id] = Map(
                {
                    "name": name or "NewOperation",
                    "code": Text(code),
                    "created": time.time(),
                    "references": dumps(list(references)),
                }
            )
            self._reparse(op_id)
        return op_id

    def set_references(self, op_id: str, names: Sequence[str]) -> None:
        """Declare which ``__init__`` parameters are references (set from a library's resources, such as an
        architecture); the others are attributes. As DeepForge keeps references as the operation's pointers,
        beside its code rather than in it."""
        record = self.record(op_id)
        known = _check_references(record["name"], str(record["code"]), names, op_id)
        with self.project.transaction():
            record["references"] = dumps(sorted(set(names), key=known.index))
            self._reparse(op_id)

    def references_of(self, op_id: str) -> list[str]:
        """The ``__init__`` parameters declared as references; for an operation from before references were
        declared, those without a default (the rule then)."""
        record = self.record(op_id)
        declared = loads(record.get("references"))
        if isinstance(declared, list):
            return [str(name) for name in declared]
        return init_parameters(str(record["code"]), without_default=True)

    def set_environment(self, op_id: str, environment: Environment | None) -> None:
        """Declare what the operation needs (pip requirements, a Python version): its jobs run in a virtual
        environment built for exactly that (``deepforge_panel.environments``); None runs them in the workbench's
        own interpreter. A requirement that does not parse is refused, naming the operation and the line."""
        record = self.record(op_id)
        if environment is not None:
            environment.check(f"operation {record['name']!r}")
        with self.project.transaction():
            if environment is None:
                if "environment" in record:
                    del record["environment"]
            else:
                record["environment"] = dumps(environment.to_dict())

    def environment_of(self, op_id: str) -> Environment | None:
        """The environment the operation declared, None if it runs in the workbench's interpreter."""
        declared = loads(self.record(op_id).get("environment"))
        return Environment.from_dict(declared) if isinstance(declared, dict) else None

    def set_code(self, op_id: str, code: str) -> InterfaceError | None:
        """Change the code; the interface follows if it parses, else the error is recorded."""
        with self.project.transaction():
            splice(self.record(op_id)["code"], code)
            return self._reparse(op_id)

    def refresh(self, op_id: str) -> InterfaceError | None:
        """Re-read the interface after the code Text changed elsewhere (a peer, a Yjs client)."""
        with self.project.transaction():
            return self._reparse(op_id)

    def rename(self, op_id: str, name: str) -> None:
        check_name("operation", name, element=op_id)
        with self.project.transaction():
            self.record(op_id)["name"] = name

    def remove(self, op_id: str) -> None:
        users = [p.name for p in self.project.pipelines.all() if any(n.operation == op_id for n in p.nodes.values())]
        if users:
            raise ProjectError(
                f"operation {self.get(op_id).name!r} is used by pipelines {users}; remove those nodes first", op_id
            )
        with self.project.transaction():
            del self._map[op_id]

    def _reparse(self, op_id: str) -> InterfaceError | None:
        record = self.record(op_id)
        declared = self.references_of(op_id)
        if record.get("references") is None:  # from before references were declared: keep what they were
            record["references"] = dumps(declared)
        try:
            interface = parse_interface(str(record["code"]), declared)
        except InterfaceError as error:
            if record.get("error") != dumps(error.to_dict()):
                record["error"] = dumps(error.to_dict())
            return error
        encoded = dumps(interface.to_dict())
        if record.get("interface") != encoded:
            record["interface"] = encoded
        if record.get("name") != interface.class_name:
            record["name"] = interface.class_name
        if record.get("error") is not None:
            del record["error"]
        return None


def _check_references(name: str, code: str, names: Sequence[str], op_id: str | None = None) -> list[str]:
    """The ``__init__`` parameters of ``code``; a ProjectError if ``names`` (to be references) holds another."""
    known = init_parameters(code)
    unknown = [item for item in names if item not in known]
    if unknown:
        raise ProjectError(
            f"operation {name!r} has no __init__ parameter {unknown[0]!r} to make a reference "
            f"(its parameters: {', '.join(known) or 'none'})",
            op_id,
        )
    return known
