"""The built-in example project: scikit-learn's bundled digits, split, a small Keras network, scored."""

from __future__ import annotations

from deepforge_panel.oplib import builtin_operations
from deepforge_panel.project import Project

DIGITS = "digits"


def add_builtin_operations(project: Project) -> dict[str, str]:
    """Add every built-in operation to ``project``; returns name -> operation id."""
    return {name: project.operations.add(code, name=name) for name, code in builtin_operations().items()}


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
    project.commit("Create the digits example", author="deepforge-panel")


EXAMPLES = {DIGITS: build_digits}
