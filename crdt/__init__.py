"""The project document as a pycrdt CRDT, its local-first store and history. Knows nothing of ML."""

from deepforge_panel.crdt.home import Entry, Home, default_home
from deepforge_panel.crdt.names import MAX_NAME_LENGTH, NAME_RULE, name_problem
from deepforge_panel.crdt.schema import (
    CORE_DESIGN_ROOTS,
    CORE_RECORD_ROOTS,
    CORE_ROOTS,
    ROOTS,
    Id,
    RootKind,
    as_int,
    dumps,
    loads,
    make_equal,
    new_id,
    register_root,
    root,
    roots,
    splice_text,
    to_py,
    unregister_root,
)
from deepforge_panel.crdt.store import Commit, CommitId, DocStore, StoreError

__all__ = [
    "CORE_DESIGN_ROOTS",
    "CORE_RECORD_ROOTS",
    "CORE_ROOTS",
    "MAX_NAME_LENGTH",
    "NAME_RULE",
    "ROOTS",
    "Commit",
    "CommitId",
    "DocStore",
    "Entry",
    "Home",
    "Id",
    "RootKind",
    "StoreError",
    "as_int",
    "default_home",
    "dumps",
    "loads",
    "make_equal",
    "name_problem",
    "new_id",
    "register_root",
    "root",
    "roots",
    "splice_text",
    "to_py",
    "unregister_root",
]
