"""Per-operation environments: declared, converted from conda, and jobs that run in them.

The slow tests install a real pure-Python package from the package index (``pyjokes``, which the workbench
does not have) into environments kept under ``tmp_path``; uv's own cache is shared, so they stay fast.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import ComputeAdapter, compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.environments import Environment, InvalidEnvironment, from_conda_env, parse_requirements
from deepforge_panel.errors import ProjectError
from deepforge_panel.interface import parse_interface
from deepforge_panel.jobgen import write_job_folder
from deepforge_panel.jobruntime.deepforge.environment import MARKER, STORE_ENV
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project
from deepforge_panel.provenance import reify
from tests.deepforge_panel.helpers import ADD, new_project

PACKAGE = "pyjokes"
"""A small pure-Python package from the package index that the workbench does not have."""

JOKE = """
class Joke:
    def execute(self):
        import sys
        import pyjokes
        joke = pyjokes.get_joke()
        print("prefix", sys.prefix)
        return joke
"""

MISSING = "deepforge-no-such-package-xyz"


# -- declaring ------------------------------------------------------------------------------------------


def test_the_key_ignores_order_spelling_and_duplicates_but_not_versions() -> None:
    a = Environment(("PyJokes >= 0.8", "tabulate"))
    assert a.key == Environment(("tabulate", "pyjokes>=0.8", "tabulate")).key
    assert a.key != Environment(("tabulate", "pyjokes>=0.9")).key
    assert a.key != Environment(a.requirements, python="3.11").key
    assert len(a.key) == 16 and a.key == Environment(("PyJokes >= 0.8", "tabulate")).key
    assert Environment.from_dict(a.to_dict()) == a
    assert Environment.from_dict({"requirements": ["x"], "python": ""}).python is None


def test_requirements_text_drops_comments_and_names_a_bad_line() -> None:
    text = "# what the operation needs\npyjokes>=0.8  # jokes\n\n  numpy[extra] ; python_version>'3'\n"
    assert parse_requirements(text) == ("pyjokes>=0.8", "numpy[extra] ; python_version>'3'")
    with pytest.raises(InvalidEnvironment, match=r"Train: line 2: 'not a requirement!' is not a pip requirement"):
        parse_requirements("ok\nnot a requirement!\n", "Train")
    with pytest.raises(InvalidEnvironment, match=r"line 1: '-r other.txt' is a pip option"):
        parse_requirements("-r other.txt\n")


def test_conda_environment_converts_with_notes_on_what_did_not() -> None:
    environment, notes = from_conda_env(
        "name: deepforge\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n"
        "  - python=3.8\n"
        "  - numpy\n"
        "  - scipy=1.5\n"
        "  - pandas=1.1.3=py38_0\n"
        "  - pytorch>=1.6\n"
        "  - cudatoolkit=10.2\n"
        "  - pip\n"
        "  - pip:\n"
        "    - requests==2.0\n"
    )
    assert environment == Environment(
        ("numpy", "scipy==1.5.*", "pandas==1.1.3", "torch>=1.6", "requests==2.0"), python="3.8"
    )
    joined = "\n".join(notes)
    assert "channels ['conda-forge'] are ignored" in joined
    assert "'cudatoolkit=10.2' is a conda-only package" in joined
    assert "conda build 'py38_0' dropped" in joined
    assert "conda package 'pytorch' installed as pip package 'torch'" in joined
    assert from_conda_env("name: empty\n") == (None, [])
    nothing, notes = from_conda_env("dependencies: [unclosed\n")
    assert nothing is None and notes[0].startswith("not readable as YAML, nothing converted")
    assert from_conda_env("- numpy\n")[0] is None
    partial, notes = from_conda_env("dependencies:\n  - numpy\n  - pip:\n    - bad!!\n")
    assert partial == Environment(("numpy",))
    assert len(notes) == 1 and notes[0].startswith("pip section: line 1: 'bad!!' is not a pip requirement: Expected")
    assert notes[0].endswith(": left out") and "\n" not in notes[0]


def test_an_operation_declares_its_environment_in_the_document(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op_id = project.operations.add(ADD)
    assert project.operations.environment_of(op_id) is None
    environment = Environment(("pyjokes==0.8.3",), python="3.11")
    project.operations.set_environment(op_id, environment)
    assert project.operations.environment_of(op_id) == environment
    assert project.operations.get(op_id).environment == environment
    assert json.loads(project.operations.record(op_id)["environment"]) == environment.to_dict()

    with pytest.raises(ProjectError, match=r"operation 'Add': 'not a requirement!' is not a pip requirement"):
        project.operations.set_environment(op_id, Environment(("not a requirement!",)))
    with pytest.raises(ProjectError, match=r"operation 'Add': Python version 'three' is not a version"):
        project.operations.set_environment(op_id, Environment((), python="three"))
    assert project.operations.environment_of(op_id) == environment, "a refused environment changes nothing"

    project.operations.set_environment(op_id, None)
    assert project.operations.environment_of(op_id) is None
    assert "environment" not in project.operations.record(op_id)


def test_a_job_environment_adds_what_its_storage_and_referenced_libraries_need() -> None:
    from importlib.metadata import version

    from deepforge_panel.environments import job_environment_for

    assert job_environment_for(None, "s3://bucket/artifacts", ["keras"]) is None, "no environment: the workbench's"
    own = Environment(("pyjokes",), "3.11")
    assert job_environment_for(own, "file:///tmp/artifacts") == own
    remote = job_environment_for(own, "s3://bucket/artifacts", ["keras", "keras"])
    assert remote is not None and remote.python == "3.11"
    assert remote.requirements == (
        "pyjokes",
        f"fsspec=={version('fsspec')}",
        f"s3fs=={version('s3fs')}",
        f"keras=={version('keras')}",
        f"tensorflow=={version('tensorflow')}",
    ), "an operation given an architecture gets the Keras and TensorFlow that generated its code"
    chosen = job_environment_for(Environment(("keras>=3",)), "file:///a", ["keras"])
    assert chosen is not None and chosen.requirements == ("keras>=3", f"tensorflow=={version('tensorflow')}")


def test_a_job_without_an_environment_is_generated_as_before(tmp_path: Path) -> None:
    common: dict[str, Any] = {
        "job_name": "add",
        "code": ADD,
        "interface": parse_interface(ADD),
        "attributes": {},
        "inputs": {},
        "storage_url": (tmp_path / "artifacts").as_uri(),
    }
    plain = write_job_folder(tmp_path / "plain", **common)
    assert not (plain / "environment.json").exists()
    assert "environment" not in (plain / "main.py").read_text()

    environment = Environment(("pyjokes",))
    own = write_job_folder(tmp_path / "own", **common, environment=environment)
    spec = json.loads((own / "environment.json").read_text())
    assert spec == {"key": environment.key, "requirements": ["pyjokes"], "python": None}
    main = (own / "main.py").read_text()
    compile(main, "main.py", "exec")
    assert main.index("activate(__file__)") < main.index("from deepforge.runtime import Job")


# -- running (slow: real installs from the package index) ---------------------------------------------


def _joke_project(tmp_path: Path, requirements: tuple[str, ...], nodes: int = 1) -> Project:
    project = new_project(tmp_path)
    op_id = project.operations.add(JOKE)
    project.operations.set_environment(op_id, Environment(requirements))
    pipeline = project.pipelines.create("jokes")
    for index in range(nodes):
        project.pipelines.add_node(pipeline, op_id, name=f"joke{index}")
    return project


def _run(project: Project, adapter: ComputeAdapter, tmp_path: Path) -> Any:
    async def go() -> Any:
        async with adapter:
            orchestrator = Orchestrator(project, adapter, storage((tmp_path / "artifacts").as_uri()), tmp_path / "jobs")
            return await orchestrator.run("jokes", cache=False)  # each run runs its job: the environment is timed

    return asyncio.run(go())


@pytest.fixture
def environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store of environments for this test only (set before any adapter starts, so Dask workers see it too)."""
    assert importlib.util.find_spec(PACKAGE) is None, f"the workbench must not have {PACKAGE} for these tests"
    store = tmp_path / "environments"
    monkeypatch.setenv(STORE_ENV, str(store))
    return store


@pytest.mark.slow
def test_a_job_runs_in_its_own_environment_built_once_and_then_reused(tmp_path: Path, environments: Path) -> None:
    project = _joke_project(tmp_path, (PACKAGE,))
    key = Environment((PACKAGE,)).key
    started = time.monotonic()
    first = _run(project, compute("local"), tmp_path)
    built_s = time.monotonic() - started
    job = first.job("joke0")
    assert first.status == "succeeded", job.error + job.stderr
    assert f"building environment {key}: {PACKAGE}" in job.stderr
    assert f"+ {PACKAGE}==" in job.stderr, "the installer's progress is in the job's console"
    assert f"prefix {environments / key}" in job.stdout
    marker = environments / key / MARKER
    built = marker.stat().st_mtime_ns

    started = time.monotonic()
    second = _run(project, compute("local"), tmp_path)
    reused_s = time.monotonic() - started
    job = second.job("joke0")
    assert second.status == "succeeded", job.error + job.stderr
    assert f"reusing environment {key}" in job.stderr and "building" not in job.stderr
    assert marker.stat().st_mtime_ns == built, "the environment was not rebuilt"
    assert sorted(p.name for p in environments.iterdir()) == [f".{key}.lock", key], "nothing half-built left"
    print(
        f"\nenvironment {key} ({PACKAGE}), local: first run {built_s:.2f} s (built), second {reused_s:.2f} s (reused)"
    )

    # The artifact remembers the environment: the pipeline recreated from it declares it again.
    artifact = second.job("joke0").outputs["joke"]
    recreated = reify(project, artifact)
    (node,) = project.pipelines.get(recreated).nodes.values()
    assert project.operations.environment_of(node.operation) == Environment((PACKAGE,))


@pytest.mark.slow
def test_jobs_needing_the_same_new_environment_at_once_build_it_once(tmp_path: Path, environments: Path) -> None:
    project = _joke_project(tmp_path, (f"{PACKAGE}>=0.6",), nodes=3)
    execution = _run(project, compute("local", max_workers=3), tmp_path)
    assert execution.status == "succeeded", {j.name: j.error + j.stderr for j in execution.jobs.values()}
    consoles = [job.stderr for job in execution.jobs.values()]
    assert sum("building environment" in console for console in consoles) == 1, consoles
    assert sum("reusing environment" in console for console in consoles) == 2, consoles


@pytest.mark.slow
def test_a_requirement_that_cannot_be_installed_fails_the_job_with_the_installers_message(
    tmp_path: Path, environments: Path
) -> None:
    project = _joke_project(tmp_path, (MISSING,))
    execution = _run(project, compute("local"), tmp_path)
    job = execution.job("joke0")
    assert execution.status == "failed" and job.status == "failed"
    key = Environment((MISSING,)).key
    assert job.error.startswith(f"environment {key} could not be built: uv failed installing"), job.error
    assert MISSING in job.error and "not found" in job.error, job.error
    assert "job joke0 failed: environment" in execution.error
    assert not [p for p in environments.iterdir() if not p.name.endswith(".lock")], "no half-built environment"


@pytest.mark.slow
def test_a_job_runs_in_its_own_environment_on_a_dask_worker(tmp_path: Path, environments: Path) -> None:
    project = _joke_project(tmp_path, (PACKAGE,), nodes=2)
    key = Environment((PACKAGE,)).key
    started = time.monotonic()
    first = _run(project, compute("dask", n_workers=2), tmp_path)
    first_s = time.monotonic() - started
    assert first.status == "succeeded", {j.name: j.error + j.stderr for j in first.jobs.values()}
    consoles = [job.stderr for job in first.jobs.values()]
    assert sum(f"building environment {key}" in console for console in consoles) == 1, consoles
    assert all(f"prefix {environments / key}" in job.stdout for job in first.jobs.values())
    built = (environments / key / MARKER).stat().st_mtime_ns

    started = time.monotonic()
    second = _run(project, compute("dask", n_workers=2), tmp_path)
    second_s = time.monotonic() - started
    assert second.status == "succeeded", {j.name: j.error + j.stderr for j in second.jobs.values()}
    assert all(f"reusing environment {key}" in job.stderr for job in second.jobs.values())
    assert (environments / key / MARKER).stat().st_mtime_ns == built
    print(f"\nenvironment {key}, dask (cluster start included): first run {first_s:.2f} s, second {second_s:.2f} s")


@pytest.mark.slow
def test_an_environment_reaches_remote_storage_with_the_workbenchs_fsspec(
    tmp_path: Path, environments: Path, s3_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Artifacts in S3: the environment gets fsspec and s3fs, pinned to the workbench's, to fetch and store them."""
    import uuid

    from tests.conftest import BUCKET

    monkeypatch.setenv("DEEPFORGE_CACHE", str(tmp_path / "cache"))
    project = _joke_project(tmp_path, (PACKAGE,))
    shout = project.operations.add(
        "class Shout:\n    def execute(self, joke):\n        import fsspec\n        loud = joke.upper()\n        return loud\n"
    )
    project.operations.set_environment(shout, Environment((PACKAGE,)))
    pipeline = project.pipelines.find("jokes").id
    node = project.pipelines.add_node(pipeline, shout, name="shout")
    project.pipelines.add_edge(pipeline, project.pipelines.get(pipeline).node("joke0").id, "joke", node, "joke")
    store = storage(f"s3://{BUCKET}/{uuid.uuid4().hex}", **s3_options)

    async def go() -> Any:
        async with compute("local") as adapter:
            return await Orchestrator(project, adapter, store, tmp_path / "jobs").run("jokes")

    execution = asyncio.run(go())
    assert execution.status == "succeeded", {j.name: j.error + j.stderr for j in execution.jobs.values()}
    loud = project.artifacts.get(execution.job("shout").outputs["loud"])
    assert loud.url.startswith(f"s3://{BUCKET}/")
    assert "s3fs==" in execution.job("joke0").stderr, "the runtime's storage packages are installed"
