from typing import Literal


class LoadDataset:
    """Load a dataset that ships with scikit-learn (no download), features scaled to [0, 1]."""

    def __init__(self, name: Literal["digits", "iris", "wine", "breast_cancer"] = "digits"):
        self.name = name

    def execute(self):
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{self.name}")()
        x = bunch.data.astype("float32")
        span = x.max(axis=0) - x.min(axis=0)
        span[span == 0] = 1.0
        x = (x - x.min(axis=0)) / span
        dataset = {"x": x, "y": bunch.target, "classes": [str(c) for c in bunch.target_names]}
        print(f"loaded {self.name}: {x.shape[0]} samples, {x.shape[1]} features, {len(dataset['classes'])} classes")
        return dataset
