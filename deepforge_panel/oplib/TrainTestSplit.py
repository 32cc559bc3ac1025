class TrainTestSplit:
    """Split a dataset into stratified training and test sets."""

    def __init__(self, test_fraction: float = 0.2, seed: int = 0):
        self.test_fraction = test_fraction
        self.seed = seed

    def execute(self, dataset):
        from sklearn.model_selection import train_test_split

        x_train, x_test, y_train, y_test = train_test_split(
            dataset["x"], dataset["y"], test_size=self.test_fraction, random_state=self.seed, stratify=dataset["y"]
        )
        train = {"x": x_train, "y": y_train, "classes": dataset["classes"]}
        test = {"x": x_test, "y": y_test, "classes": dataset["classes"]}
        print(f"train: {len(y_train)} samples, test: {len(y_test)} samples")
        return train, test
