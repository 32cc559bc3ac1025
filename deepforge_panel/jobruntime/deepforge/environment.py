"""Run a job in the virtual environment its operation declared, built on this machine once per key and reused.

The job folder's ``environment.json`` (written by the workbench) holds the requirements, the Python version (None:
this interpreter's) and their key. :func:`activate`, the first thing such a job's ``main.py`` runs, finds
``<store>/<key>`` or builds it with ``uv`` (its output streams to the job's console), then re-executes
``main.py`` with that environment's interpreter, where :func:`activate` returns at once. The store is
``$DEEPFORGE_ENVIRONMENTS``, else ``~/.cache/deepforge-panel/environments``. Jobs that need the same new
environment at once build it once (a file lock); an environment is built in a temporary folder and renamed into
place when complete, so none is ever half-built. A requirement that cannot be installed fails the job with the
installer's message. Jobs of operations without an environment never import this module.

This module imports nothing beyond the standard library on purpose.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from . import feedback

STORE_ENV = "DEEPFORGE_ENVIRONMENTS"
"""The variable naming the folder of built environments on the machine that runs the job."""

SPEC = "environment.json"
"""The job folder's file that declares its environment."""

MARKER = "deepforge-environment.json"
"""Written into an environment last, before it is renamed into place: what it was built for, when, how fast."""

_TAIL = 40
"""Lines of the installer's output kept for the job's error."""

Say = Callable[[str], None]


class BuildError(Exception):
    """The environment could not be built; the message ends with what the installer said."""


def store() -> Path:
    """Where this machine keeps built environments."""
    return Path(os.environ.get(STORE_ENV) or Path.home() / ".cache" / "deepforge-panel" / "environments")


def activate(main_file: str) -> None:
    """Continue in the job's environment: return if this interpreter is it, else build or reuse it and re-execute
    ``main_file`` there (this process becomes the job in it). A build that fails ends the job with its message."""
    folder = Path(main_file).resolve().parent
    spec = json.loads((folder / SPEC).read_text())
    target = store() / spec["key"]
    if Path(sys.prefix).resolve() == target.resolve():
        return
    try:
        python = ensure(spec, target)
    except BuildError as exc:
        _fail(str(exc))
    sys.stdout.flush()
    sys.stderr.flush()
    main = str(folder / "main.py")
    os.execve(python, [str(python), main], {**os.environ, **feedback.hand_over()})


def ensure(spec: dict[str, Any], target: Path, say: Say | None = None) -> Path:
    """The interpreter of the environment ``spec`` at ``target``, built first unless it is there."""
    say = say or _say
    key = spec["key"]
    if _ready(target):
        say(f"reusing environment {key} ({target})")
        return _python(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{key}.lock"):
        if _ready(target):  # another job built it while this one waited
            say(f"reusing environment {key} ({target}), built by another job meanwhile")
            return _python(target)
        build(spec, target, say)
    return _python(target)


def build(spec: dict[str, Any], target: Path, say: Say) -> None:
    """Build the environment into a temporary folder beside ``target`` and rename it into place; call with the
    key's lock held. Nothing is left behind when it fails."""
    key, requirements, python = spec["key"], list(spec.get("requirements") or []), spec.get("python")
    for stale in target.parent.glob(f".tmp-{key}-*"):  # from a build that was killed: the lock says it is over
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():  # incomplete (no marker) or its interpreter is gone
        shutil.rmtree(target)
    uv = _find_uv(spec)
    tmp = target.parent / f".tmp-{key}-{os.getpid()}"
    started = time.monotonic()
    say(
        f"building environment {key}: {', '.join(requirements) or 'no requirements'}"
        f" (Python {python or '.'.join(map(str, sys.version_info[:3]))})"
    )
    try:
        _run(
            [uv, "venv", "--quiet", "--relocatable", "--python", python or sys.executable, str(tmp)], key, "creating it"
        )
        if requirements:
            listed = tmp / "deepforge-requirements.txt"
            listed.write_text("\n".join(requirements) + "\n")
            _run([uv, "pip", "install", "--python", str(_python(tmp)), "-r", str(listed)], key, "installing")
        seconds = time.monotonic() - started
        record = {"key": key, "requirements": requirements, "python": python, "built": time.time(), "seconds": seconds}
        (tmp / MARKER).write_text(json.dumps(record, indent=2))
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"built environment {key} in {seconds:.1f} s")


def _run(argv: list[str], key: str, what: str) -> None:
    """Run the installer, its output streamed to the job's stderr; BuildError with its last lines if it fails."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            text = raw.decode("utf-8", errors="replace")
            sys.stderr.write(text)
            sys.stderr.flush()
            tail.append(text.rstrip("\n"))
    code = proc.wait()
    if code != 0:
        said = "\n".join(tail).strip() or "(it said nothing)"
        raise BuildError(f"environment {key} could not be built: uv failed {what} (exit code {code}):\n{said}")


def _find_uv(spec: dict[str, Any]) -> str:
    with contextlib.suppress(ImportError, FileNotFoundError):
        from uv import find_uv_bin  # the PyPI wheel of uv ships its binary

        return str(find_uv_bin())
    found = shutil.which("uv")
    if found:
        return found
    needs = ", ".join(spec.get("requirements") or []) or "no requirements"
    raise BuildError(
        f"environment {spec['key']} could not be built: uv is not installed for {sys.executable} "
        f"(pip install uv), or run main.py with a Python that has: {needs}"
    )


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ready(venv: Path) -> bool:
    """Built completely (its marker is written last) and its interpreter still there."""
    return (venv / MARKER).is_file() and _python(venv).exists()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (released by the system if this process dies)."""
    import fcntl

    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _say(text: str) -> None:
    sys.stderr.write(f"[environment] {text}\n")
    sys.stderr.flush()


def _fail(message: str) -> NoReturn:
    """End the job: the message on stderr and as its error."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    feedback.emit({"type": "error", "traceback": message})
    sys.stdout.flush()
    raise SystemExit(1)
