"""The project document as a pycrdt CRDT, its local-first store and history. Knows nothing of ML."""

from deepforge_panel.crdt.home import Entry, Home, default_home
from deepforge_panel.crdt.schema import ROOTS, Id, as_int, dumps, loads, make_equal, new_id, root, roots, to_py
from deepforge_panel.crdt.store import Commit, CommitId, DocStore, StoreError

__all__ = [
    "ROOTS",
    "Commit",
    "CommitId",
    "DocStore",
    "Entry",
    "Home",
    "Id",
    "StoreError",
    "as_int",
    "default_home",
    "dumps",
    "loads",
    "make_equal",
    "new_id",
    "root",
    "roots",
    "to_py",
]
