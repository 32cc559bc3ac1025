class ScoreClassifier:
    """Accuracy of a trained classifier on held-out data."""

    def execute(self, model, test):
        import keras

        if keras.backend.backend() == "tensorflow":  # the same predictions on every run, bit for bit
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        predictions = model.predict(test["x"], verbose=0).argmax(axis=1)
        accuracy = float((predictions == test["y"]).mean())
        print(f"accuracy: {accuracy:.4f} on {len(test['y'])} test samples")
        return accuracy
