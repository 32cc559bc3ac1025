"""The built-in example project: scikit-learn's bundled digits, split, a small Keras network, scored."""

from __future__ import annotations

from typing import Any

from deepforge_panel.oplib import add_builtin, builtin_operations
from deepforge_panel.project import Project

DIGITS = "digits"


def add_builtin_operations(project: Project) -> dict[str, str]:
    """Add every built-in operation to ``project``; returns name -> operation id."""
    return {name: add_builtin(project, name) for name in builtin_operations()}


def build_digits(project: Project) -> None:
    """Fill an empty project with the digits example: operations and the ``train`` pipeline."""
    ops = add_builtin_operations(project)
    with project.transaction():
        project.meta["description"] = (
            "Handwritten digits (8x8 images bundled with scikit-learn) classified by a small Keras network."
        )
    pipelines = project.pipelines
    train = pipelines.create("train")
    load = pipelines.add_node(train, ops["LoadDataset"], name="load", attributes={"name": "digits"}, x=0, y=120)
    split = pipelines.add_node(train, ops["TrainTestSplit"], name="split", x=240, y=120)
    fit = pipelines.add_node(train, ops["TrainClassifier"], name="train", attributes={"epochs": 10}, x=480, y=40)
    score = pipelines.add_node(train, ops["ScoreClassifier"], name="score", x=720, y=40)
    plot = pipelines.add_node(train, ops["PlotConfusionMatrix"], name="confusion", x=720, y=200)
    pipelines.add_edge(train, load, "dataset", split, "dataset")
    pipelines.add_edge(train, split, "train", fit, "train")
    pipelines.add_edge(train, fit, "model", score, "model")
    pipelines.add_edge(train, split, "test", score, "test")
    pipelines.add_edge(train, fit, "model", plot, "model")
    pipelines.add_edge(train, split, "test", plot, "test")
    add_architectures(project, ops)
    project.notebooks.create("explore", cells=EXPLORE)
    project.commit("Create the digits example", author="deepforge-panel")


EXPLORE: list[tuple[str, str]] = [
    (
        "markdown",
        "# Explore the digits\n\nThe bundled digits, a quick classifier's mistakes, and a 2-D embedding of the "
        "images in the **explorer**: hover a point to see its row, digit and prediction; color it by digit, by "
        "prediction or by mistake; draw a lasso around some points and save them as an artifact. Every artifact "
        "saved here keeps the cells that made it, so *Recreate pipeline* in the Artifacts tab runs it again.",
    ),
    (
        "code",
        "from sklearn.datasets import load_digits\n\ndigits = load_digits()\n"
        "images, labels = digits.data[:600], digits.target[:600]\nimages.shape",
    ),
    (
        "code",
        "import matplotlib.pyplot as plt\n\n"
        "fig, axes = plt.subplots(1, 6, figsize=(6, 1.4))\n"
        "for ax, image, label in zip(axes, digits.images, digits.target):\n"
        '    ax.imshow(image, cmap="gray_r")\n    ax.set_title(f"digit {label}")\n'
        "plt.show()",
    ),
    (
        "code",
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.model_selection import cross_val_predict\n\n"
        "predicted = cross_val_predict(LogisticRegression(max_iter=2000), images, labels, cv=3)\n"
        'print(f"{(predicted != labels).sum()} of {len(labels)} digits mistaken")',
    ),
    (
        "code",
        'explorer.show(images, labels=labels, predictions=predicted, name="digits")',
    ),
    (
        "code",
        'ones = images[labels == 1]\nartifacts.save(ones, "digit_ones")\nlen(ones)',
    ),
]
"""The example notebook: the bundled digits, a classifier's mistakes, their embedding in the explorer, a saved
selection."""


def add_architectures(project: Project, ops: dict[str, str]) -> None:
    """A small CNN and an Inception-style block (the seed's section 9.1) for the 8x8 digits, each trained through a reference."""
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView
    from deepforge_panel.references import make_reference

    views = ArchitecturesView(project)
    cnn = views.create("digits-cnn")
    chain: list[tuple[str, dict[str, Any], str]] = [
        ("InputLayer", {"shape": [64]}, "pixels"),
        ("Reshape", {"target_shape": [8, 8, 1]}, "image"),
        ("Conv2D", {"filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"}, "conv1"),
        ("MaxPooling2D", {"pool_size": 2}, "pool"),
        ("Conv2D", {"filters": 32, "kernel_size": 3, "padding": "same", "activation": "relu"}, "conv2"),
        ("Flatten", {}, "flatten"),
        ("Dense", {"units": 64, "activation": "relu"}, "hidden"),
        ("Dropout", {"rate": 0.2}, "dropout"),
        ("Dense", {"units": 10, "activation": "softmax"}, "digit"),
    ]
    previous = None
    for i, (layer_type, args, name) in enumerate(chain):
        layer = views.add_layer(cnn, layer_type, args, name=name, x=0, y=90 * i)
        if previous is not None:
            views.connect(cnn, previous, layer)
        previous = layer

    inception = views.create("digits-inception")

    def add(layer_type: str, args: dict[str, object], name: str, x: float, y: float) -> str:
        return views.add_layer(inception, layer_type, args, name=name, x=x, y=y)

    pixels = add("InputLayer", {"shape": [64]}, "pixels", 300, 0)
    image = add("Reshape", {"target_shape": [8, 8, 1]}, "image", 300, 90)
    conv = {"padding": "same", "activation": "relu"}
    branch1 = add("Conv2D", {"filters": 8, "kernel_size": 1, **conv}, "b1_1x1", 0, 200)
    reduce3 = add("Conv2D", {"filters": 8, "kernel_size": 1, **conv}, "b2_reduce", 200, 200)
    branch3 = add("Conv2D", {"filters": 16, "kernel_size": 3, **conv}, "b2_3x3", 200, 290)
    reduce5 = add("Conv2D", {"filters": 8, "kernel_size": 1, **conv}, "b3_reduce", 400, 200)
    branch5 = add("Conv2D", {"filters": 16, "kernel_size": 5, **conv}, "b3_5x5", 400, 290)
    pool = add("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, "b4_pool", 600, 200)
    branch_pool = add("Conv2D", {"filters": 8, "kernel_size": 1, **conv}, "b4_1x1", 600, 290)
    merged = add("Concatenate", {}, "merged", 300, 400)
    gap = add("GlobalAveragePooling2D", {}, "gap", 300, 490)
    digit = add("Dense", {"units": 10, "activation": "softmax"}, "digit", 300, 580)
    for src, dst in [
        (pixels, image),
        (image, branch1),
        (image, reduce3),
        (reduce3, branch3),
        (image, reduce5),
        (reduce5, branch5),
        (image, pool),
        (pool, branch_pool),
    ]:
        views.connect(inception, src, dst)
    for branch in (branch1, branch3, branch5, branch_pool):
        views.connect(inception, branch, merged)
    views.connect(inception, merged, gap)
    views.connect(inception, gap, digit)

    pipelines = project.pipelines
    for pipeline_name, architecture in (("train-cnn", cnn), ("train-inception", inception)):
        pid = pipelines.create(pipeline_name)
        load = pipelines.add_node(pid, ops["LoadDataset"], name="load", x=0, y=120)
        split = pipelines.add_node(pid, ops["TrainTestSplit"], name="split", x=240, y=120)
        fit = pipelines.add_node(pid, ops["TrainArchitecture"], name="train", x=480, y=120)
        score = pipelines.add_node(pid, ops["ScoreClassifier"], name="score", x=720, y=120)
        pipelines.set_reference(pid, fit, "architecture", make_reference("keras", architecture))
        pipelines.add_edge(pid, load, "dataset", split, "dataset")
        pipelines.add_edge(pid, split, "train", fit, "train")
        pipelines.add_edge(pid, fit, "model", score, "model")
        pipelines.add_edge(pid, split, "test", score, "test")


EXAMPLES = {DIGITS: build_digits}
