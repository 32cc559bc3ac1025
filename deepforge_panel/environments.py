"""What an operation needs to run: pip requirements and a Python version, built into a virtual environment.

An operation that declares an :class:`Environment` runs in a virtual environment made for exactly those
requirements on the machine that runs its job, built once per :attr:`Environment.key` and reused by every
job with the same needs (the building is the job runtime's, ``deepforge/environment.py``). An operation
without one runs in the workbench's own interpreter, as before. DeepForge kept an operation's needs as a
conda environment (its ``condaEnv``): :func:`from_conda_env` converts one and says what it could not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from deepforge_panel.errors import ProjectError

__all__ = ["Environment", "InvalidEnvironment", "from_conda_env", "parse_requirements", "runtime_requirements"]

_PYTHON_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


class InvalidEnvironment(ProjectError):
    """An environment that cannot be declared or built; the message names the requirement or version at fault."""


def _normalized(requirement: str) -> str:
    """One requirement as it counts for the key: the canonical name, sorted extras, then the rest as packaging writes it."""
    parsed = Requirement(requirement)
    text: str = canonicalize_name(parsed.name)
    if parsed.extras:
        text += "[" + ",".join(sorted(canonicalize_name(extra) for extra in parsed.extras)) + "]"
    if parsed.url:
        text += f" @ {parsed.url}"
    text += str(parsed.specifier)
    if parsed.marker is not None:
        text += f"; {parsed.marker}"
    return text


@dataclass(frozen=True)
class Environment:
    """Pip requirements (requirements.txt lines) and a Python version (None: the Python that runs the job)."""

    requirements: tuple[str, ...]
    python: str | None = None

    @property
    def key(self) -> str:
        """A short hash of the normalized requirements (order and spelling aside) and the Python version: jobs with
        equal keys share one built environment."""
        normalized = sorted({_normalized(r) for r in self.requirements})
        payload = json.dumps({"requirements": normalized, "python": self.python or ""}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def check(self, owner: str = "environment") -> Environment:
        """This environment, if every requirement parses and the Python version is one; else an InvalidEnvironment
        naming ``owner`` and the element at fault."""
        for requirement in self.requirements:
            _requirement(requirement, owner)
        if self.python is not None and not _PYTHON_VERSION.match(self.python):
            raise InvalidEnvironment(
                f"{owner}: Python version {self.python!r} is not a version such as '3.11' or '3.11.7'", self.python
            )
        return self

    def with_requirements(self, extra: tuple[str, ...]) -> Environment:
        """This environment plus ``extra`` requirements for packages it does not name already."""
        named = {canonicalize_name(Requirement(r).name) for r in self.requirements}
        added = tuple(r for r in extra if canonicalize_name(Requirement(r).name) not in named)
        return Environment((*self.requirements, *added), self.python)

    def to_dict(self) -> dict[str, Any]:
        return {"requirements": list(self.requirements), "python": self.python}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Environment:
        python = data.get("python")
        return cls(tuple(str(r) for r in data.get("requirements") or ()), None if python in (None, "") else str(python))


def _requirement(line: str, owner: str, number: int | None = None) -> str:
    where = f"line {number}: " if number is not None else ""
    try:
        Requirement(line)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise InvalidEnvironment(f"{owner}: {where}{line!r} is not a pip requirement: {reason}", line) from exc
    return line


def parse_requirements(text: str, owner: str = "requirements") -> tuple[str, ...]:
    """The requirements of a requirements.txt text: comments and blank lines dropped, each line checked.

    Options (``-r``, ``--index-url``, ``-e``) are refused: an environment is its requirements alone.
    """
    found: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            raise InvalidEnvironment(
                f"{owner}: line {number}: {line!r} is a pip option; an environment holds requirements only", line
            )
        found.append(_requirement(line, owner, number))
    return tuple(found)


def job_environment_for(
    environment: Environment | None, storage_url: str, libraries: Iterable[str] = ()
) -> Environment | None:
    """What a job of an operation declaring ``environment`` runs in: that, plus what the job runtime needs to reach
    ``storage_url`` and what the ``libraries`` of its references need to build them (Keras: TensorFlow), each
    pinned to this workbench's version unless the operation names the package itself; None stays None."""
    if environment is None:
        return None
    from deepforge_panel.libraries import library

    needed = [*runtime_requirements(storage_url)]
    for name in dict.fromkeys(libraries):
        needed += library(name).runtime_requirements()
    return environment.with_requirements(tuple(needed))


def runtime_requirements(storage_url: str) -> tuple[str, ...]:
    """What the job runtime itself needs in an environment to reach the artifacts' storage: nothing for local
    files; fsspec and the protocol's implementation (s3fs for ``s3://``) for any other. Pinned to the versions this
    workbench runs, so a job reads what the workbench wrote and the installer finds them in its cache."""
    from deepforge_panel.jobruntime.deepforge.storage import local_path

    if local_path(storage_url) is not None:
        return ()
    protocol = storage_url.split("://", 1)[0]
    packages = ["fsspec"]
    try:
        from fsspec.registry import known_implementations

        module = str(known_implementations.get(protocol, {}).get("class", "")).split(".", 1)[0]
    except ImportError:
        module = ""
    if module and module != "fsspec":
        packages.append(module)
    return tuple(pinned(name) for name in packages)


def pinned(distribution: str) -> str:
    """``name==version`` as this workbench has it installed (the bare name when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{distribution}=={version(distribution)}"
    except PackageNotFoundError:
        return distribution


# -- conda -------------------------------------------------------------------------------------------

CONDA_TO_PIP: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "matplotlib-base": "matplotlib",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "pillow-simd": "pillow",
    "pytables": "tables",
    "py-xgboost": "xgboost",
    "pyqt": "PyQt5",
    "msgpack-python": "msgpack",
    "protobuf": "protobuf",
    "graphviz": "graphviz",
}
"""Conda package names whose pip package is named otherwise (most are named alike)."""

CONDA_ONLY: frozenset[str] = frozenset(
    {
        "cudatoolkit",
        "cudnn",
        "cuda",
        "cuda-toolkit",
        "nccl",
        "mkl",
        "blas",
        "openblas",
        "libblas",
        "libcblas",
        "liblapack",
        "nomkl",
        "libgcc-ng",
        "libstdcxx-ng",
        "libgfortran-ng",
        "_libgcc_mutex",
        "_openmp_mutex",
        "openssl",
        "ca-certificates",
        "ncurses",
        "readline",
        "sqlite",
        "tk",
        "xz",
        "zlib",
        "libffi",
        "nodejs",
        "r-base",
        "conda",
    }
)
"""Conda packages that are not Python packages on the package index (libraries, toolchains, conda itself)."""

_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[^:\s]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


def _conda_version(spec: str) -> tuple[str, str | None]:
    """A conda version spec as a pip specifier, and the build string it dropped, if any: ``=1.19`` (conda's
    fuzzy match) is ``==1.19.*``; ``==1.19.2``, ``1.19.2`` and ``=1.19.2=py38_0`` are ``==1.19.2``; ranges
    (``>=1.2,<2``) stay as they are."""
    spec = spec.strip()
    if not spec:
        return "", None
    if spec[0] in "<>!~":
        return spec.replace(" ", ""), None
    fuzzy = spec.startswith("=") and not spec.startswith("==")
    version, _, build = spec.lstrip("=").replace(" ", "=", 1).partition("=")
    version = version.strip()
    if build or not fuzzy or version.endswith("*"):
        return f"=={version}", build.strip() or None
    return f"=={version}.*", None


def from_conda_env(text: str) -> tuple[Environment | None, list[str]]:
    """A conda environment YAML (DeepForge's ``condaEnv``) as an Environment, with notes on what could not be
    converted (conda-only packages, channels, build strings, renamed packages, lines that are not requirements);
    None when nothing could be (an unreadable text among them: its note says why). Never raises on its input, so
    one operation's broken ``condaEnv`` stops no import."""
    import yaml

    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        return None, [f"not readable as YAML, nothing converted: {exc}"]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [f"not a conda environment (a mapping with 'dependencies'), but a {type(data).__name__}"]
    notes: list[str] = []
    if data.get("channels"):
        notes.append(f"channels {list(data['channels'])} are ignored: packages come from the package index")
    for field in ("prefix", "variables"):
        if data.get(field):
            notes.append(f"{field!r} is ignored")
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        return None, [*notes, "'dependencies' is not a list: nothing converted"]
    requirements: list[str] = []
    python: str | None = None
    for item in dependencies:
        if isinstance(item, dict):
            for key, value in item.items():
                if key != "pip":
                    notes.append(f"dependency section {key!r} is not converted")
                    continue
                for line in value if isinstance(value, list) else [value]:
                    try:
                        requirements.extend(parse_requirements(str(line), "pip section"))
                    except InvalidEnvironment as exc:
                        notes.append(f"{exc}: left out")
            continue
        spec = str(item).strip()
        match = _CONDA_SPEC.match(spec)
        if match is None:
            notes.append(f"{spec!r} is not a conda package spec: left out")
            continue
        name, rest = match["name"], match["rest"]
        if match["channel"]:
            notes.append(f"{spec!r}: channel {match['channel']!r} ignored")
        if name.lower() == "python":
            python, version_notes = _conda_python(spec, rest)
            notes.extend(version_notes)
            continue
        if name.lower() == "pip":
            continue
        if name.lower() in CONDA_ONLY:
            notes.append(f"{spec!r} is a conda-only package (not on the package index): left out")
            continue
        version, build = _conda_version(rest)
        if build:
            notes.append(f"{spec!r}: conda build {build!r} dropped")
        pip_name = CONDA_TO_PIP.get(name.lower(), name)
        if pip_name != name:
            notes.append(f"{spec!r}: conda package {name!r} installed as pip package {pip_name!r}")
        requirement = pip_name + version
        try:
            Requirement(requirement)
        except InvalidRequirement:
            notes.append(f"{spec!r}: version {rest!r} could not be converted; {pip_name!r} without a version")
            requirement = pip_name
        requirements.append(requirement)
    if not requirements and python is None:
        return None, notes
    return Environment(tuple(requirements), python), notes


def _conda_python(spec: str, rest: str) -> tuple[str | None, list[str]]:
    """``python=3.8`` (or ``3.8.*``, ``>=3.8``) as a Python version, with a note where a range became one version."""
    version = re.search(r"\d+(\.\d+){0,2}", rest)
    if version is None:
        return None, [f"{spec!r}: no Python version in it; the job's own Python is used"] if rest.strip() else []
    exact = rest.strip().lstrip("=").rstrip(".*").split("=")[0].strip()
    if exact != version.group(0):
        return version.group(0), [f"{spec!r}: Python version taken as {version.group(0)!r}"]
    return version.group(0), []
