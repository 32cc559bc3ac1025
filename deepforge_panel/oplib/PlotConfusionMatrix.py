import matplotlib.pyplot as plt


class PlotConfusionMatrix:
    """Draw how a classifier's predictions on held-out data fall across the true classes."""

    def execute(self, model, test):
        import keras
        import numpy as np

        if keras.backend.backend() == "tensorflow":  # the same predictions on every run, bit for bit
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        predictions = model.predict(test["x"], verbose=0).argmax(axis=1)
        n = len(test["classes"])
        matrix = np.zeros((n, n), dtype=int)
        for truth, guess in zip(test["y"], predictions, strict=False):
            matrix[truth, guess] += 1
        _figure, axes = plt.subplots()
        axes.imshow(matrix, cmap="Blues")
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title("Confusion matrix")
        plt.show()
        print(matrix)
        return matrix
