"""What a generated job's ``main.py`` calls: load inputs, run the operation, save outputs.

The job folder holds ``job.json`` (attributes, inputs by reference, the storage to write
to); everything needed to run it again by hand with plain ``python main.py``, given the
storage's options (if it needs any) in ``$DEEPFORGE_STORAGE_OPTIONS``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import determinism, feedback, serialization, storage

SEED = 0
"""Every job starts from the same random state (Python's ``random``), so the same job gives the same result."""


class Job:
    """The running job, read from the ``job.json`` beside ``main.py``."""

    def __init__(self, main_file: str) -> None:
        self.folder = Path(main_file).resolve().parent
        spec = json.loads((self.folder / "job.json").read_text())
        self.name: str = spec["name"]
        self.attributes: dict[str, Any] = spec["attributes"]
        self.inputs: dict[str, dict[str, Any]] = spec["inputs"]
        self.storage: dict[str, Any] = spec["storage"]
        self.storage_options: dict[str, Any] = storage.options_from_environment()
        """fsspec options for the storage (credentials, endpoint): from the environment, never from disk."""
        self.outputs: dict[str, dict[str, Any]] = {}
        if str(self.folder) not in sys.path:
            sys.path.insert(0, str(self.folder))
        random.seed(SEED)  # before references are built: Keras draws the seeds of unseeded initializers from it
        if (self.folder / "library_init.py").exists():
            _load(self.folder / "library_init.py", "library_init")

    def reference(self, name: str) -> Any:
        """The object a reference names (e.g. a Keras model), built by its library's generated ``build()``."""
        module = _load(self.folder / "references" / f"{name}.py", f"deepforge_reference_{name}")
        return module.build()

    def input(self, name: str) -> Any:
        """The object flowing into input ``name``, fetched from storage by reference."""
        ref = self.inputs[name]
        data = storage.fetch(ref["url"], self.storage_options, ref.get("hash"))
        return serialization.loads(data)

    def output(self, name: str, value: Any) -> None:
        """Store ``value`` as output ``name`` and tell the workbench where it is."""
        data = serialization.dumps(value)
        url, digest, size = storage.put_content(self.storage["url"], self.storage_options, data)
        record = {"name": name, "url": url, "hash": digest, "size": size, "datatype": serialization.type_name(value)}
        notes = determinism.caveats()
        if notes:
            record["caveats"] = notes
        self.outputs[name] = record
        (self.folder / "outputs.json").write_text(json.dumps(self.outputs, indent=2))
        feedback.emit({"type": "output", **record})
        if not feedback.enabled():
            print(f"output {name}: {record['datatype']} ({size} bytes) -> {url}")

    @contextlib.contextmanager
    def running(self) -> Iterator[Job]:
        """Run the body as the job: figures flushed at the end, any failure reported with its traceback."""
        if feedback.enabled():
            _exit_with_parent()
        try:
            yield self
            _flush_figures()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if code:
                feedback.emit({"type": "error", "traceback": f"operation called sys.exit({exc.code!r})"})
            _flush_figures()
            raise
        except BaseException:  # noqa: BLE001 - any failure of the operation is reported, then the job exits 1
            _flush_figures()
            text = traceback.format_exc()
            sys.stderr.write(text)
            sys.stderr.flush()
            feedback.emit({"type": "error", "traceback": text})
            sys.stdout.flush()
            os._exit(1)


def _load(path: Path, module_name: str) -> Any:
    """Import a generated source file as a module (kept in ``sys.modules`` so pickling finds it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _exit_with_parent() -> None:
    """Under the workbench, end the job if the process that started it dies (no orphaned jobs)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(137)

    threading.Thread(target=watch, name="deepforge-parent-watch", daemon=True).start()


def _flush_figures() -> None:
    """Send figures the operation drew but never showed (only under the workbench's backend)."""
    if "matplotlib" not in sys.modules:
        return
    backend = sys.modules.get(f"{__package__}.mpl_backend")
    if backend is not None:
        with contextlib.suppress(Exception):
            backend.flush_all()
