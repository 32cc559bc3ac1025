"""What an exported pipeline runs on outside the workbench: inputs from paths or URLs, outputs to a folder.

An export (``deepforge-panel export``: a script, a notebook or a folder) runs every operation of a pipeline in
one process, in the order the workbench would. So that each gives what its job gave, :meth:`Run.start` puts the
process back in the state a job starts in (Python's ``random`` seeded with :data:`SEED`, Keras' global state
cleared if Keras is loaded), and what an operation returns goes through the same serialization as a job's
output: the bytes written are the artifact the workbench stores (the same content hash), and the next
operation receives them deserialized, as its job would. ``PYTHONHASHSEED`` must be 0 before Python starts:
:func:`use_hash_seed` restarts a script with it.

This module imports nothing beyond the standard library on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import serialization, storage

SEED = 0
"""The random state every job starts from (``deepforge.runtime.SEED``)."""

HASH_SEED = "0"
"""``PYTHONHASHSEED`` of every job: set iteration order is the same run to run."""

MANIFEST = "outputs.json"
"""The output folder's record of every output: its file, content hash, size and type, by node and port."""


def use_hash_seed() -> None:
    """Restart this script with ``PYTHONHASHSEED=0`` unless it has it (as every job runs), so set and dict orders
    that hashing decides come out as in the workbench."""
    if os.environ.get("PYTHONHASHSEED") == HASH_SEED:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, *getattr(sys, "orig_argv", [sys.executable, *sys.argv])[1:]]  # its flags kept
    os.execve(sys.executable, argv, {**os.environ, "PYTHONHASHSEED": HASH_SEED})


def hash_seed_note() -> str:
    """Empty when this process hashes as jobs do; else what to do about it (a notebook's kernel cannot restart)."""
    if os.environ.get("PYTHONHASHSEED") == HASH_SEED:
        return ""
    return (
        "note: PYTHONHASHSEED is not 0 in this process (the workbench's jobs run with 0); results that depend on "
        "set order may differ: start Jupyter with PYTHONHASHSEED=0 to match them exactly"
    )


def parse_arguments(
    argv: Sequence[str] | None, inputs: dict[str, str], description: str, out: str = "outputs"
) -> tuple[dict[str, str], str]:
    """``--input NAME=PATH`` (a path or URL for each input, by name; ``inputs`` holds the defaults) and
    ``--out FOLDER``; returns (name -> path or URL, the output folder)."""
    parser = argparse.ArgumentParser(description=description)
    known = ", ".join(inputs) or "none"
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"where input NAME is read from, a file path or a URL (inputs: {known}); default: where the "
        "workbench stored it",
    )
    parser.add_argument("--out", default=out, help=f"the folder the outputs are written to (default {out})")
    args = parser.parse_args(argv)
    chosen = dict(inputs)
    for item in args.input:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error(f"--input {item!r}: expected NAME=PATH, e.g. {next(iter(inputs), 'data')}=data.pkl")
        if name not in inputs:
            parser.error(f"--input {item!r}: there is no input {name!r}; the inputs are: {known}")
        chosen[name] = path
    return chosen, args.out


class Run:
    """One run of an exported pipeline: where its inputs are read from and the folder its outputs go to."""

    def __init__(
        self,
        out: str | Path,
        inputs: dict[str, str] | None = None,
        hashes: dict[str, str] | None = None,
        close_figures: bool = True,
    ):
        self.out = Path(out)
        self.inputs = dict(inputs or {})
        """Input name -> the path or URL it is read from."""
        self.hashes = dict(hashes or {})
        """Location -> the content hash of the artifact the workbench stored there (checked when read from it)."""
        self.options: dict[str, Any] = storage.options_from_environment()
        """fsspec options for remote inputs (credentials, endpoint), from ``$DEEPFORGE_STORAGE_OPTIONS``."""
        self.outputs: dict[str, dict[str, Any]] = {}
        self.close_figures = close_figures
        """Whether a figure is closed once saved (a script's; a notebook keeps them for its cell to show)."""
        self._figures: weakref.WeakSet[Any] = weakref.WeakSet()

    def start(self, node: str) -> None:
        """Begin operation ``node`` from the state its job would start in."""
        print(f"[{node}]", flush=True)
        random.seed(SEED)
        keras = sys.modules.get("keras")
        if keras is not None:  # a new job has no layers named yet and no global seed set
            keras.backend.clear_session()

    def input(self, name: str) -> Any:
        """The object input ``name`` holds: an artifact as the workbench stores it, read from its path or URL."""
        if name not in self.inputs:
            raise KeyError(f"no input {name!r}; the inputs are: {', '.join(self.inputs) or 'none'}")
        where = self.inputs[name]
        if not where:
            raise ValueError(f"input {name!r} has no default location: give it with --input {name}=PATH")
        digest = self.hashes.get(where)
        path = storage.local_path(where)
        if path is not None and not path.exists():
            raise FileNotFoundError(f"input {name!r}: no file {str(path)!r}; give another with --input {name}=PATH")
        return serialization.loads(storage.fetch(where, self.options, digest))

    def output(self, node: str, port: str, value: Any, file: str) -> Any:
        """Write ``value`` (output ``port`` of ``node``) to ``file`` in the output folder as the workbench would
        store it; returns it deserialized, as the operations it flows into would receive it."""
        data = serialization.dumps(value)
        digest = hashlib.sha256(data).hexdigest()
        path = self.out / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.outputs.setdefault(node, {})[port] = {
            "file": file,
            "hash": digest,
            "size": len(data),
            "datatype": serialization.type_name(value),
        }
        (self.out / MANIFEST).write_text(json.dumps(self.outputs, indent=2, sort_keys=True))
        print(f"output {node}.{port}: {serialization.type_name(value)} ({len(data)} bytes) -> {path}", flush=True)
        return serialization.loads(data)

    def end(self, node: str, stem: str) -> None:
        """Save the figures operation ``node`` drew and left open as ``<stem>.figure-N.png`` in the output folder
        (the workbench shows them with its job)."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        drawn = [pyplot.figure(number) for number in pyplot.get_fignums()]
        for count, figure in enumerate((f for f in drawn if f not in self._figures), start=1):
            self._figures.add(figure)
            path = self.out / f"{stem}.figure-{count}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path)
            print(f"figure {node}: {path}", flush=True)
            if self.close_figures:
                pyplot.close(figure)


def load(path: str | Path) -> Any:
    """The object an exported pipeline wrote to ``path`` (or any artifact the workbench stored)."""
    return serialization.loads(Path(path).read_bytes())
