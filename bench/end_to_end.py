"""The example's `train-cnn` pipeline through `deepforge-panel run` against one plain Python script doing the same.

The plain script is what a user would write instead of the workbench: the same operations' code and the
same generated architecture, run one after another in one process (TensorFlow imported once), outputs
passed in memory. Both run as fresh processes, alternating, with the cache off; prints each run, the
medians and their ratio.

    python bench/end_to_end.py [--runs 3] [--pipeline train-cnn]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNNER = """
import json, sys, types
plan = json.load(open(sys.argv[1]))
values = {}
for step in plan:
    module = types.ModuleType(step["name"])
    exec(compile(step["code"], step["name"], "exec"), module.__dict__)
    kwargs = dict(step["attributes"])
    for reference, code in step["references"].items():
        built = types.ModuleType(f"reference_{reference}")
        exec(compile(code, reference, "exec"), built.__dict__)
        kwargs[reference] = built.build()
    operation = getattr(module, step["class"])(**kwargs)
    inputs = {port: values[(src, out)] for port, (src, out) in step["inputs"].items()}
    result = operation.execute(**inputs)
    outputs = step["outputs"]
    if len(outputs) == 1:
        result = (result,)
    values.update({(step["name"], name): value for name, value in zip(outputs, result)})
print("done", {k[0] + "." + k[1]: type(v).__name__ for k, v in values.items()})
"""


def plan(home: Path, pipeline_name: str) -> list[dict[str, object]]:
    """The pipeline as steps a plain script runs: code, attributes, generated references, inputs by source."""
    from deepforge_panel.snapshots import take_snapshot
    from deepforge_panel.workspace import Workspace

    project = Workspace(home).open("digits")
    pipeline = project.pipelines.get(project.pipelines.find(pipeline_name).id)
    steps = []
    for node_id in pipeline.topological_order():
        snapshot = take_snapshot(project, pipeline, node_id, {})
        steps.append(
            {
                "name": snapshot.name,
                "class": snapshot.interface.class_name,
                "code": snapshot.code,
                "attributes": snapshot.attributes,
                "references": {name: ref.code for name, ref in snapshot.references.items()},
                "inputs": {e.dst_port: (pipeline.nodes[e.src].name, e.src_port) for e in pipeline.incoming(node_id)},
                "outputs": [p.name for p in snapshot.interface.outputs],
            }
        )
    project.close()
    return steps


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pipeline", default="train-cnn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = folder / "home"
        (folder / "plan.json").write_text(json.dumps(plan(home, args.pipeline)))
        (folder / "plain.py").write_text(RUNNER)
        workbench_cmd = [
            str(Path(sys.executable).with_name("deepforge-panel")),
            "run",
            "digits",
            args.pipeline,
            "--no-cache",
            "--home",
            str(home),
        ]
        plain_cmd = [sys.executable, "plain.py", "plan.json"]
        ours, plain = [], []
        for i in range(args.runs):
            ours.append(timed(workbench_cmd, folder))
            plain.append(timed(plain_cmd, folder))
            print(f"run {i + 1}: deepforge-panel run {ours[-1]:.2f} s, plain script {plain[-1]:.2f} s", flush=True)
    w, p = statistics.median(ours), statistics.median(plain)
    print(f"example pipeline {args.pipeline!r}, median of {args.runs} alternating runs")
    print(f"  deepforge-panel run: {w:.2f} s")
    print(f"  plain script:        {p:.2f} s")
    print(f"  ratio: {w / p:.2f}x")


if __name__ == "__main__":
    main()
