"""Notebook sessions: how long one takes to start, and a trivial cell from "run" to its output in the document.

    python bench/notebook.py [--runs 50] [--compute local|dask]

Runs a notebook's cells through the same runner the workbench uses (``NotebookRunner`` on a compute
adapter, outputs written into the project document as they arrive). Prints the session's start time
(median of ``--starts`` fresh sessions) and, in a warm session, the median and p95 time from asking a
cell ``1 + 1`` to run until its result is in the document (goal: under 50 ms). Baseline, in the same
run: the same expression evaluated in this process and written to the document the same way, which is
what a run costs without the session round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepforge_panel.adapters.compute import compute  # noqa: E402
from deepforge_panel.crdt import Home  # noqa: E402
from deepforge_panel.notebook_runner import NotebookRunner  # noqa: E402
from deepforge_panel.project import Project  # noqa: E402


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


async def main(runs: int, starts: int, kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.open(Home(Path(tmp) / "home").create("bench"))
        notebook = project.notebooks.create("bench", cells=[("code", "1 + 1")])
        cell = project.notebooks.get(notebook).cells[0].id
        adapter = compute(kind)
        async with adapter:
            start_ms: list[float] = []
            for i in range(starts):
                runner = NotebookRunner(project, notebook, adapter, Path(tmp) / f"s{i}")
                started = time.perf_counter()
                await runner.session.start()
                start_ms.append((time.perf_counter() - started) * 1000)
                await runner.shutdown()
            runner = NotebookRunner(project, notebook, adapter, Path(tmp) / "warm")
            await runner.run_cell(cell)  # warm
            cell_ms: list[float] = []
            for _ in range(runs):
                started = time.perf_counter()
                await runner.run_cell(cell)
                cell_ms.append((time.perf_counter() - started) * 1000)
            assert [o["text"] for o in project.notebooks.run_of(cell).outputs] == ["2"]
            await runner.shutdown()
        base_ms: list[float] = []
        for count in range(runs):
            started = time.perf_counter()
            project.notebooks.start_run(cell, "1 + 1", count)
            project.notebooks.append_output(
                cell, {"type": "result", "text": repr(eval("1 + 1")), "html": None, "png": None}
            )
            project.notebooks.set_status(cell, "done")
            base_ms.append((time.perf_counter() - started) * 1000)
        project.close()
    print(f"session start on {kind} ({starts} sessions): median {statistics.median(start_ms):.0f} ms")
    print(f"trivial cell, run -> output in the document ({runs} runs in a warm session):")
    print(f"  through the session:  median {statistics.median(cell_ms):.1f} ms, p95 {p95(cell_ms):.1f} ms (goal < 50)")
    print(f"  in-process baseline:  median {statistics.median(base_ms):.1f} ms, p95 {p95(base_ms):.1f} ms")
    print(f"  ratio session / baseline: {statistics.median(cell_ms) / statistics.median(base_ms):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--compute", default="local")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.starts, args.compute))
