"""Time the example's `train` pipeline run twice: the first run, then the second, whose jobs are all cached.

Prints both wall times and their ratio (how much of a repeat run the cache saves), through the same
orchestrator the workbench uses, on the local adapter.

    python bench/rerun.py [--pipeline train]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", default="train")
    args = parser.parse_args()
    from deepforge_panel.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "home")
        project = workspace.open("digits")
        orchestrator = workspace.orchestrator(project)

        async def timed() -> tuple[float, dict[str, str]]:
            start = time.perf_counter()
            execution = await orchestrator.run(args.pipeline)
            elapsed = time.perf_counter() - start
            assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values() if j.error}
            return elapsed, {job.name: job.status for job in execution.jobs.values()}

        first, statuses = asyncio.run(timed())
        second, cached = asyncio.run(timed())
    print(f"example pipeline {args.pipeline!r} ({len(statuses)} nodes), local adapter")
    print(f"  first run:  {first:.2f} s  ({', '.join(sorted(set(statuses.values())))})")
    print(f"  second run: {second:.2f} s  ({', '.join(sorted(set(cached.values())))})")
    print(f"  ratio second/first: {second / first:.3f}  ({first / second:.0f}x faster)")


if __name__ == "__main__":
    main()
