"""Generate a self-contained job folder for one operation: runs under the workbench or by hand.

Layout: ``main.py`` (readable entry script), ``operation.py`` (the operation's code as
written), ``job.json`` (attributes, inputs by reference, the storage URL), ``references/<name>.py``
(library-generated code whose ``build()`` makes each referenced resource, e.g. a Keras
model), ``utils/<name>.py`` (the project's utility modules), ``library_init.py`` (libraries' and the
project's init code, if any), ``deepforge/`` (the job-side runtime), and ``environment.json`` when the operation
declared an environment (``main.py`` then first moves into it: ``deepforge/environment.py``).
``cd folder && python main.py`` reproduces the job anywhere fsspec can reach the storage. Storage options (credentials, endpoints) never go into the folder: the job
reads them from ``$DEEPFORGE_STORAGE_OPTIONS`` (JSON), set by the workbench or by hand.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deepforge_panel.environments import Environment
from deepforge_panel.interface import Interface
from deepforge_panel.jobruntime.deepforge.storage import OPTIONS_ENV

RUNTIME = Path(__file__).parent / "jobruntime" / "deepforge"

_MAIN = '''"""Job {job_name}: operation {class_name} ({origin}).

Runs by hand with `python main.py`; inputs are fetched from storage by reference (job.json),
with the storage's options (credentials, endpoint), if it needs any, as JSON in
$DEEPFORGE_STORAGE_OPTIONS.
"""
{activate}
from deepforge.runtime import Job

job = Job(__file__)
with job.running():
    from operation import {class_name}

    operation = {construct}
{load_inputs}    {execute}
{save_outputs}'''


def in_docstring(text: str) -> str:
    """``text`` as it may stand inside the entry script's docstring: names are anyone's, quotes included."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


_ACTIVATE = """
from deepforge.environment import activate

activate(__file__)  # from here on in the environment environment.json declares, built or reused with uv
"""


def construct_call(class_name: str, references: dict[str, str], attributes: str) -> str:
    """Python that makes the operation: ``class_name`` called with each reference's expression by name, then
    ``attributes`` (an expression of a dict) as keywords."""
    reference_args = "".join(f"{name}={expr}, " for name, expr in references.items())
    return f"{class_name}({reference_args}**{attributes})"


def execute_call(instance: str, inputs: dict[str, str], outputs: list[str]) -> str:
    """Python that runs ``instance.execute`` with each connected input's expression by name, its results assigned
    to ``outputs`` (in the order the interface lists them; none, one, or unpacked)."""
    call = ", ".join(f"{name}={expr}" for name, expr in inputs.items())
    if not outputs:
        assign = ""
    elif len(outputs) == 1:
        assign = f"{outputs[0]} = "
    else:
        assign = ", ".join(outputs) + " = "
    return f"{assign}{instance}.execute({call})"


def render_main(
    job_name: str, interface: Interface, connected: set[str], origin: str, *, environment: bool = False
) -> str:
    """The entry script: construct the operation (references built), load connected inputs, execute, save outputs;
    with an ``environment``, first move into the job's virtual environment."""
    inputs = [p.name for p in interface.inputs if p.name in connected]
    outputs = [p.name for p in interface.outputs]
    load = "".join(f"    {name} = job.input({name!r})\n" for name in inputs)
    save = "".join(f"    job.output({name!r}, {name})\n" for name in outputs)
    references = {r.name: f"job.reference({r.name!r})" for r in interface.references}
    return _MAIN.format(
        job_name=in_docstring(repr(job_name)),
        activate=_ACTIVATE if environment else "",
        construct=construct_call(interface.class_name, references, "job.attributes"),
        class_name=interface.class_name,
        origin=in_docstring(origin),
        load_inputs=load,
        execute=execute_call("operation", {name: name for name in inputs}, outputs),
        save_outputs=save,
    )


def write_job_folder(
    folder: Path,
    *,
    job_name: str,
    code: str,
    interface: Interface,
    attributes: dict[str, Any],
    inputs: dict[str, dict[str, Any]],
    storage_url: str,
    references: dict[str, str] | None = None,
    init_code: list[str] | None = None,
    utilities: dict[str, str] | None = None,
    origin: str = "",
    environment: Environment | None = None,
    runtime_copy: Path | None = None,
) -> Path:
    """Write the job folder and return it; ``inputs`` maps connected input names to {url, hash}; the job runs in
    ``environment``'s virtual environment if one is given (the workbench's interpreter otherwise).

    Outputs go under ``storage_url``; the options to reach it travel in the job's environment
    (:func:`job_environment`), so no secret is written to disk. With ``runtime_copy`` (a folder on the same
    file system), the runtime's files are hard links to one read-only copy kept there (:func:`link_runtime`).
    """
    check_file_names([*(references or {}), *(utilities or {})], "reference and utility")  # before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    if runtime_copy is None or not link_runtime(runtime_copy, folder / "deepforge"):
        for relative, data in runtime_files().items():
            target = folder / "deepforge" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    (folder / "operation.py").write_text(code)
    if references:
        (folder / "references").mkdir(exist_ok=True)
        for name, source in references.items():
            (folder / "references" / f"{name}.py").write_text(source)
    write_utilities(folder, utilities or {})
    init = joined_init(init_code or [])
    if init:
        (folder / "library_init.py").write_text(init)
    spec = {"name": job_name, "attributes": attributes, "inputs": inputs, "storage": {"url": storage_url}}
    (folder / "job.json").write_text(json.dumps(spec, indent=2, sort_keys=True))
    if environment is not None:
        (folder / "environment.json").write_text(
            json.dumps({"key": environment.key, **environment.to_dict()}, indent=2)
        )
    main = render_main(job_name, interface, set(inputs), origin, environment=environment is not None)
    (folder / "main.py").write_text(main)
    return folder


@functools.cache
def runtime_files() -> dict[str, bytes]:
    """The job runtime's files (relative path -> bytes), read once per process: every job folder gets a copy."""
    return {
        path.relative_to(RUNTIME).as_posix(): path.read_bytes()
        for path in sorted(RUNTIME.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def link_runtime(copies: Path, target: Path) -> bool:
    """Make ``target`` the runtime package as hard links to a read-only copy of it under ``copies`` (made once per
    runtime version, and checked once per process); False, with nothing left in ``target``, where the file
    system cannot link (the caller then writes the files). Linking ten files takes a fifth of a millisecond
    where writing them can take several."""
    files = runtime_files()
    try:
        source = _runtime_copy(copies)
        for relative in files:
            link = target / relative
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(source / relative, link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        return False
    return True


@functools.cache
def _runtime_copy(copies: Path) -> Path:
    """The read-only copy of the runtime under ``copies``, written if missing and rewritten if it was changed."""
    files = runtime_files()
    digest = hashlib.sha256(json.dumps({k: hashlib.sha256(v).hexdigest() for k, v in files.items()}).encode())
    folder = copies / digest.hexdigest()[:16]
    if all(_holds(folder / relative, data) for relative, data in files.items()):
        return folder
    staging = copies / f".{folder.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    for relative, data in files.items():
        path = staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o444)
    shutil.rmtree(folder, ignore_errors=True)  # a changed copy; job folders linked to it keep their files
    try:
        staging.rename(folder)
    except OSError:  # another process put its copy in place meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def joined_init(init_code: list[str]) -> str:
    """The libraries' and the project's init code as one module's source, each piece once ("" when none)."""
    return "\n\n".join(c for c in dict.fromkeys(init_code) if c.strip())


def check_file_names(names: Iterable[str], what: str) -> None:
    """Each of ``names`` names a file in a job folder: a ValueError unless all are Python identifiers."""
    unsafe = sorted(name for name in names if not name.isidentifier())
    if unsafe:
        raise ValueError(f"{what} names are Python identifiers (each names a file in the job folder), not {unsafe}")


def write_utilities(folder: Path, utilities: dict[str, str]) -> None:
    """The project's utility modules as the package ``utils`` in ``folder`` (nothing when there are none)."""
    check_file_names(utilities, "utility")
    if not utilities:
        return
    (folder / "utils").mkdir(exist_ok=True)
    (folder / "utils" / "__init__.py").write_text('"""The project\'s utility modules: import utils.<name>."""\n')
    for name, source in utilities.items():
        (folder / "utils" / f"{name}.py").write_text(source)


JOB_LOG_LEVELS = ("quiet", "verbose")
"""How much of the libraries' start-up logging a project's jobs show (``Project.job_log_level``)."""

_STARTUP_CHATTER = re.compile(
    "|".join(
        (
            r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
            r"oneDNN custom operations are on\.",
            r"Could not find cuda drivers on your machine, GPU will not be used\.",
            r"This TensorFlow binary is optimized to use available CPU instructions",
            r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$",
            r"failed call to cuInit",
            r"Unable to register cu\w+ factory: Attempting to register factory for plugin",
            r"computation placer already registered\.",
            r"TF-TRT Warning: Could not find TensorRT",
        )
    )
)
"""TensorFlow's start-up notices. TensorFlow >= 2.19 logs them before its log level is read, so no
environment variable hides them: the console leaves them out, the job folder's ``stderr.log`` keeps them."""


def is_startup_chatter(line: str) -> bool:
    """Whether a stderr line is one of TensorFlow's start-up notices, hidden from a quiet job's console."""
    return _STARTUP_CHATTER.search(line) is not None


def job_environment(storage_options: dict[str, Any] | None = None, log_level: str = "quiet") -> dict[str, str]:
    """Environment a job gets under the workbench: figures through our backend and the storage's
    fsspec options, if it has any. Feedback is on wherever the compute adapter gives the job an
    events channel (``$DEEPFORGE_EVENTS_FD``), so no switch is needed here. ``log_level`` (one of
    :data:`JOB_LOG_LEVELS`) sets the C++ log levels of TensorFlow and gRPC; numerics are untouched."""
    if log_level not in JOB_LOG_LEVELS:
        raise ValueError(f"job log level is one of {JOB_LOG_LEVELS}, not {log_level!r}")
    env = {"MPLBACKEND": "module://deepforge.mpl_backend", "PYTHONHASHSEED": "0"}  # set order: run to run the same
    if log_level == "quiet":
        env |= {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR"}
    else:
        env |= {"TF_CPP_MIN_LOG_LEVEL": "0", "GRPC_VERBOSITY": "INFO"}
    if storage_options:
        env[OPTIONS_ENV] = json.dumps(storage_options)
    return env
