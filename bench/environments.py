"""Time per-operation environments: a one-job pipeline whose operation needs a package the workbench lacks.

Runs the same job on the local adapter: in the workbench's own Python (no environment, the baseline),
then with an environment declared: the first run builds it (uv, its cache warm or, with ``--cold``, an empty
one, so every package is downloaded), the next runs reuse it. Prints each run's wall time (the run as the CLI
sees it: commit, job folder, process, build) and the build time the environment recorded.

    python bench/environments.py [--package pyjokes] [--runs 3] [--cold]

Goal (issue 13.5): a reused environment adds next to nothing to a job; a small one builds in seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.crdt import Home
from deepforge_panel.environments import Environment
from deepforge_panel.jobruntime.deepforge.environment import MARKER, STORE_ENV
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project

CODE = """
class UsePackage:
    def execute(self):
        import importlib
        module = importlib.import_module({module!r})
        name = module.__name__
        return name
"""


def timed_run(project: Project, folder: Path) -> float:
    """Seconds one run of pipeline ``p`` takes; fails loudly if it did not succeed."""

    async def go() -> float:
        adapter = compute("local")
        async with adapter:
            orchestrator = Orchestrator(project, adapter, storage((folder / "artifacts").as_uri()), folder / "jobs")
            started = time.perf_counter()
            execution = await orchestrator.run("p")
            seconds = time.perf_counter() - started
        if execution.status != "succeeded":
            job = next(iter(execution.jobs.values()))
            raise SystemExit(f"run failed: {job.error}\n{job.stderr}")
        return seconds

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", default="pyjokes", help="a package the workbench does not have (default pyjokes)")
    parser.add_argument("--module", default=None, help="its import name (default: the package name)")
    parser.add_argument("--runs", type=int, default=3, help="runs reusing the environment (default 3)")
    parser.add_argument("--cold", action="store_true", help="an empty uv cache: every package is downloaded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deepforge-bench-env-") as tmp:
        folder = Path(tmp)
        os.environ[STORE_ENV] = str(folder / "environments")
        if args.cold:
            os.environ["UV_CACHE_DIR"] = str(folder / "uv-cache")
        project = Project.open(Home(folder / "home").create("bench"))
        op_id = project.operations.add(CODE.format(module=args.module or args.package.replace("-", "_")))
        project.pipelines.add_node(project.pipelines.create("p"), op_id, name="use")

        baseline = Project.open(Home(folder / "home2").create("baseline"))
        baseline_op = baseline.operations.add(CODE.format(module="json"))
        baseline.pipelines.add_node(baseline.pipelines.create("p"), baseline_op, name="use")
        plain = [timed_run(baseline, folder / "baseline") for _ in range(args.runs)]

        environment = Environment((args.package,))
        project.operations.set_environment(op_id, environment)
        first = timed_run(project, folder)
        recorded = json.loads((folder / "environments" / environment.key / MARKER).read_text())
        reused = [timed_run(project, folder) for _ in range(args.runs)]

    print(f"package {args.package}, uv cache {'cold (empty)' if args.cold else 'warm'}, local adapter")
    print(f"  no environment (workbench's Python): median {statistics.median(plain):.2f} s over {args.runs} runs")
    print(f"  first run, environment built:        {first:.2f} s (the build itself {recorded['seconds']:.2f} s)")
    print(f"  environment reused:                   median {statistics.median(reused):.2f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
