"""Shape checking through the real worker process: shapes, errors on the layer at fault, restarts, supersession."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pycrdt import Doc

from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.libraries.keras.shapes import ShapeChecker, format_shape, from_payload, to_payload
from deepforge_panel.project import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def view() -> ArchitecturesView:
    return ArchitecturesView(Project(Doc(), name="shapes"))


def convnet(view: ArchitecturesView) -> str:
    arch = view.create("convnet")
    view.add_layer(arch, "InputLayer", {"shape": [8, 8, 1]}, name="image")
    view.add_layer(arch, "Conv2D", {"filters": 4, "kernel_size": 3}, name="conv")
    view.add_layer(arch, "Flatten", name="flat")
    view.add_layer(arch, "Dense", {"units": 10}, name="out")
    for src, dst in (("image", "conv"), ("conv", "flat"), ("flat", "out")):
        view.connect(arch, src, dst)
    return arch


def by_name(view: ArchitecturesView, arch: str, results: dict) -> dict:
    layers = view.get(arch).layers
    return {layers[lid].name: result for lid, result in results.items()}


def test_shapes_of_a_small_convnet(runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView) -> None:
    arch = convnet(view)
    shapes = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert shapes == {
        "image": {"shape": [None, 8, 8, 1]},
        "conv": {"shape": [None, 6, 6, 4]},
        "flat": {"shape": [None, 144]},
        "out": {"shape": [None, 10]},
    }
    assert format_shape(shapes["conv"]["shape"]) == "(None, 6, 6, 4)"
    assert format_shape([None]) == "(None,)"


def test_a_misfit_is_reported_on_the_layer_at_fault_and_below_it(
    runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView
) -> None:
    arch = view.create("misfit")
    view.add_layer(arch, "InputLayer", {"shape": [4]}, name="flat_in")
    view.add_layer(arch, "InputLayer", {"shape": [4, 4]}, name="square_in")
    view.add_layer(arch, "Concatenate", name="joined")
    view.add_layer(arch, "Dense", {"units": 3}, name="hidden")
    view.add_layer(arch, "Dense", {"units": 2}, name="head")
    for src, dst in (("flat_in", "joined"), ("square_in", "joined"), ("joined", "hidden"), ("hidden", "head")):
        view.connect(arch, src, dst)
    shapes = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert shapes["flat_in"] == {"shape": [None, 4]} and shapes["square_in"] == {"shape": [None, 4, 4]}
    assert "Concatenate" in shapes["joined"]["error"] and "(None, 4, 4)" in shapes["joined"]["error"]
    assert "blocked_by" not in shapes["joined"]
    joined = view.get(arch).layer("joined").id
    for name in ("hidden", "head"):
        assert shapes[name] == {"error": "input unavailable: joined failed", "blocked_by": joined}


def test_missing_arguments_and_unconnected_layers_are_explained(
    runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView
) -> None:
    arch = view.create("unfinished")
    view.add_layer(arch, "InputLayer", {"shape": [8, 8, 1]}, name="image")
    view.add_layer(arch, "Conv2D", {"filters": 4}, name="conv")
    view.add_layer(arch, "Dense", name="dense")
    view.add_layer(arch, "Flatten", name="alone")
    view.add_layer(arch, "InputLayer", name="shapeless")
    view.connect(arch, "image", "conv")
    view.connect(arch, "image", "dense")
    shapes = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert shapes["conv"]["error"] == "conv: Conv2D needs kernel_size (not set)"
    assert shapes["dense"]["error"] == "dense: Dense needs units (not set)"
    assert shapes["alone"]["error"] == "alone: no input is connected"
    assert "needs a shape" in shapes["shapeless"]["error"]
    assert shapes["image"] == {"shape": [None, 8, 8, 1]}


def test_custom_activations_run_in_the_worker(
    runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView
) -> None:
    arch = convnet(view)
    view.set_function(arch, "halfrelu", "def halfrelu(x):\n    return keras.ops.relu(x) * 0.5\n")
    view.set_args(arch, "conv", {"activation": "halfrelu"})
    view.set_function(arch, "broken", "import no_such_module\n\ndef broken(x):\n    return x\n")
    view.set_args(arch, "out", {"activation": "broken"})
    shapes = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert shapes["conv"] == {"shape": [None, 6, 6, 4]}
    assert "function 'broken'" in shapes["out"]["error"] and "no_such_module" in shapes["out"]["error"]
    view.set_args(arch, "out", {"activation": "softmax", "kernel_regularizer": "L2(l2=0.001)"})
    view.set_args(arch, "conv", {"kernel_initializer": "no_such_initializer"})
    shapes = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert "no_such_initializer" in shapes["conv"]["error"] and "neither a Keras initializer" in shapes["conv"]["error"]
    assert shapes["out"] == {"error": "input unavailable: conv failed", "blocked_by": view.get(arch).layer("conv").id}
    view.set_args(arch, "conv", {"kernel_initializer": "he_normal"})
    assert by_name(view, arch, runner.run(checker.check(view.get(arch))))["out"] == {"shape": [None, 10]}


def test_the_worker_is_restarted_after_it_dies(
    runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView
) -> None:
    arch = convnet(view)
    runner.run(checker.ping())
    starts, pid = checker.starts, checker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    shapes = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert shapes["out"] == {"shape": [None, 10]}
    assert checker.starts == starts + 1 and checker.pid not in (None, pid)


def test_a_newer_request_supersedes_a_queued_one(
    runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView
) -> None:
    arch = convnet(view)
    payloads = []
    for units in (1, 2, 3):
        view.set_args(arch, "out", {"units": units})
        payloads.append(to_payload(view.get(arch)))

    async def three_edits() -> list[dict]:
        first = asyncio.ensure_future(checker.check(payloads[0]))
        await asyncio.sleep(0)  # let the first request go out, so the next two queue behind it
        return await asyncio.gather(first, checker.check(payloads[1]), checker.check(payloads[2]))

    answers = [by_name(view, arch, a)["out"]["shape"] for a in runner.run(three_edits())]
    assert answers == [[None, 1], [None, 3], [None, 3]]


def test_a_150_layer_network_after_one_edit(
    runner: asyncio.Runner, checker: ShapeChecker, view: ArchitecturesView
) -> None:
    arch = view.create("deep")
    previous = view.add_layer(arch, "InputLayer", {"shape": [32]}, name="features")
    for i in range(149):
        layer = view.add_layer(arch, "Dense", {"units": 32 + i % 3, "activation": "relu"}, name=f"dense_{i}")
        view.connect(arch, previous, layer)
        previous = layer
    first = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert len(first) == 150 and first["dense_148"] == {"shape": [None, 32 + 148 % 3]}
    view.set_args(arch, "dense_70", {"units": 7})
    after = by_name(view, arch, runner.run(checker.check(view.get(arch))))
    assert after["dense_70"] == {"shape": [None, 7]}
    assert {k: v for k, v in after.items() if k != "dense_70"} == {k: v for k, v in first.items() if k != "dense_70"}


def test_payload_round_trip_drops_dangling_connections(view: ArchitecturesView) -> None:
    arch = view.get(convnet(view))
    payload = to_payload(arch)
    payload["connections"]["dangling"] = {"src": "gone", "dst": next(iter(arch.layers)), "index": 0}
    back = from_payload(payload)
    assert back.layers == {
        lid: layer.__class__(lid, layer.name, layer.type, layer.args) for lid, layer in arch.layers.items()
    }
    assert set(back.connections) == set(arch.connections)


def test_build_model_makes_the_keras_model(tmp_path: Path) -> None:
    """In a subprocess: this test process stays free of TensorFlow."""
    code = (
        "from pycrdt import Doc\n"
        "from deepforge_panel.project import Project\n"
        "from deepforge_panel.libraries.keras.architectures import ArchitecturesView\n"
        "from deepforge_panel.libraries.keras.build import build_model\n"
        "view = ArchitecturesView(Project(Doc()))\n"
        "arch = view.create('net')\n"
        "view.set_function(arch, 'halfrelu', 'def halfrelu(x):\\n    return keras.ops.relu(x) * 0.5\\n')\n"
        "view.add_layer(arch, 'InputLayer', {'shape': [8, 8, 1]}, name='image')\n"
        "view.add_layer(arch, 'Conv2D', {'filters': 4, 'kernel_size': [3, 3], 'activation': 'halfrelu'}, name='conv')\n"
        "view.add_layer(arch, 'Flatten', name='flat')\n"
        "view.add_layer(arch, 'Dense', {'units': 10, 'activation': 'softmax'}, name='out')\n"
        "for s, d in (('image', 'conv'), ('conv', 'flat'), ('flat', 'out')): view.connect(arch, s, d)\n"
        "model = build_model(view.get(arch))\n"
        "print('layers', [l.name for l in model.layers], 'output', model.output_shape, 'params', model.count_params())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "layers ['image', 'conv', 'flat', 'out'] output (None, 10) params 1490" in done.stdout
