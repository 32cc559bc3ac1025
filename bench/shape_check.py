"""Shape-check latency: a 150-layer network, one edit at a time, answered by a warm worker.

    python bench/shape_check.py [--edits 30]

Cold start: a new ``ShapeChecker`` until the worker answers (TensorFlow imported), then the
first check of the whole network (every layer computed). Warm: for each edit, the clock runs
from the view call that edits the document to the answer for the edited architecture, the
way the editor asks after a change. Three kinds of edit: an argument that keeps every shape
(kernel size with "same" padding: one layer recomputed), one that changes shapes until the
next convolution (filters), and the input shape (all 150 layers recomputed, the worst case).
Every edit makes values not seen before, so no answer comes from the cache whole.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

from pycrdt import Doc

from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.libraries.keras.shapes import ShapeChecker
from deepforge_panel.project import Project

BLOCKS = 49
"""Input + 49 x (Conv2D, BatchNormalization, Activation) + pooling + Dense = 150 layers."""


def network(view: ArchitecturesView) -> str:
    arch = view.create("bench")
    previous = view.add_layer(arch, "InputLayer", {"shape": [32, 32, 3]}, name="image")
    for i in range(BLOCKS):
        for layer_type, args in (
            ("Conv2D", {"filters": 16, "kernel_size": 3, "padding": "same"}),
            ("BatchNormalization", {}),
            ("Activation", {"activation": "relu"}),
        ):
            layer = view.add_layer(arch, layer_type, args, name=f"{layer_type.lower()}_{i}")
            view.connect(arch, previous, layer)
            previous = layer
    for layer_type, args, name in (("GlobalAveragePooling2D", {}, "pool"), ("Dense", {"units": 10}, "logits")):
        layer = view.add_layer(arch, layer_type, args, name=name)
        view.connect(arch, previous, layer)
        previous = layer
    assert len(view.get(arch).layers) == 150
    return arch


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{label:<44} median {statistics.median(samples) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(samples)})"


async def main(edits: int) -> None:
    view = ArchitecturesView(Project(Doc(), name="bench"))
    arch = network(view)
    checker = ShapeChecker()
    start = time.perf_counter()
    await checker.ping()
    ready = time.perf_counter() - start
    start = time.perf_counter()
    shapes = await checker.check(view.get(arch))
    first = time.perf_counter() - start
    assert all("shape" in r for r in shapes.values()), shapes
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"cold start: worker ready in {ready:.2f} s; first check of 150 layers {first * 1000:.0f} ms")

    async def timed(edit: object) -> float:
        begin = time.perf_counter()
        edit()  # type: ignore[operator]
        answer = await checker.check(view.get(arch))
        elapsed = time.perf_counter() - begin
        assert len(answer) == 150
        return elapsed

    middle = [f"conv2d_{i}" for i in range(10, 40)]
    same = [
        await timed(lambda i=i: view.set_args(arch, middle[i % 30], {"kernel_size": 3 + 2 * (i % 2 == 0)}))
        for i in range(edits)
    ]
    reshaping = [
        await timed(lambda i=i: view.set_args(arch, middle[i % 30], {"filters": 16 + 8 * (i % 2 == 0)}))
        for i in range(edits)
    ]
    whole = [await timed(lambda i=i: view.set_args(arch, "image", {"shape": [33 + i, 32, 3]})) for i in range(edits)]
    print(summary("edit keeping shapes (kernel_size):", same))
    print(summary("edit changing shapes to next conv (filters):", reshaping))
    print(summary("edit of the input shape (all 150 layers):", whole))
    await checker.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=30)
    asyncio.run(main(parser.parse_args().edits))
