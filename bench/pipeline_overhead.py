"""Time a 20-job pipeline of no-op operations against a plain script doing the same in subprocesses.

Prints the wall time of each, their ratio and the workbench's overhead per job. The baseline
does the same work by hand: for each of the 20 jobs, a fresh `python` process that loads its
input (pickle), runs the operation, and writes its output (pickle), one after another.

    python bench/pipeline_overhead.py [--jobs 20] [--repeat 3] [--compute local|dask]

With ``--compute dask`` the pipeline runs on a local Dask cluster of two workers (started before timing).
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOOP = """
class NoOp:
    def execute(self, data=None):
        result = (data or 0) + 1
        return result
"""

BASELINE_STEP = """
import pickle, sys
sys.path.insert(0, sys.argv[3])
from noop import NoOp
data = pickle.load(open(sys.argv[1], "rb")) if sys.argv[1] != "-" else None
pickle.dump(NoOp().execute(data), open(sys.argv[2], "wb"))
"""


def baseline(jobs: int, folder: Path) -> float:
    (folder / "noop.py").write_text(NOOP)
    start = time.perf_counter()
    previous = "-"
    for i in range(jobs):
        out = folder / f"out{i}.pkl"
        subprocess.run([sys.executable, "-c", BASELINE_STEP, previous, str(out), str(folder)], check=True)
        previous = str(out)
    elapsed = time.perf_counter() - start
    assert pickle.loads(Path(previous).read_bytes()) == jobs
    return elapsed


def workbench(jobs: int, folder: Path, compute: str = "local", reattach: bool = False) -> float:
    from deepforge_panel.workspace import Workspace

    workspace = Workspace(folder / "home", examples=False)
    project = workspace.create("bench")
    op = project.operations.add(NOOP)
    pid = project.pipelines.create("chain")
    previous = None
    for i in range(jobs):
        node = project.pipelines.add_node(pid, op, name=f"n{i:02d}")
        if previous is not None:
            project.pipelines.add_edge(pid, previous, "result", node, "data")
        previous = node
    options = {"reattach": True} if reattach else {}
    orchestrator = workspace.orchestrator(project, compute=compute, compute_options=options)

    async def go() -> float:
        await orchestrator.compute.start()
        try:
            start = time.perf_counter()
            execution = await orchestrator.run("chain", cache=False)
            elapsed = time.perf_counter() - start
        finally:
            await orchestrator.compute.stop()
        assert execution.status == "succeeded", [j.error for j in execution.jobs.values() if j.error]
        return elapsed

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compute", choices=["local", "dask"], default="local")
    parser.add_argument(
        "--reattach", action="store_true", help="local jobs as the workbench's server runs them: kept if it dies"
    )
    args = parser.parse_args()
    base, ours = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            base.append(baseline(args.jobs, Path(tmp)))
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(workbench(args.jobs, Path(tmp), args.compute, args.reattach))
    b, w = statistics.median(base), statistics.median(ours)
    print(f"{args.jobs}-job chain of no-op operations, median of {args.repeat} runs")
    print(f"  plain python subprocesses: {b:.3f} s ({b / args.jobs * 1000:.1f} ms/job)")
    how = args.compute + (", jobs kept if the workbench dies" if args.reattach else "")
    print(f"  deepforge-panel pipeline ({how}): {w:.3f} s ({w / args.jobs * 1000:.1f} ms/job)")
    print(f"  ratio: {w / b:.2f}x   overhead per job: {(w - b) / args.jobs * 1000:.1f} ms")


if __name__ == "__main__":
    main()
