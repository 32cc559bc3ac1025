import matplotlib.pyplot as plt

try:
    from deepforge import metric, progress
except ImportError:  # running outside the workbench: feedback calls do nothing

    def metric(name, value, step=None):
        pass

    def progress(current, total=None, label=""):
        pass


class TrainArchitecture:
    """Train a network designed in the architecture editor, drawing the loss after every epoch."""

    def __init__(
        self, architecture, epochs: int = 5, batch_size: int = 32, learning_rate: float = 0.001, seed: int = 0
    ):
        self.architecture = architecture
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    def execute(self, train):
        import keras

        keras.utils.set_random_seed(self.seed)
        if keras.backend.backend() == "tensorflow":  # the same result on every run (on CPU), a little slower
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        model = self.architecture
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        epochs = self.epochs
        losses = []
        figure, axes = plt.subplots()

        class Feedback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                losses.append(logs["loss"])
                metric("loss", logs["loss"], epoch + 1)
                metric("accuracy", logs["accuracy"], epoch + 1)
                progress(epoch + 1, epochs, "epoch")
                print(f"epoch {epoch + 1}/{epochs}: loss {logs['loss']:.4f}, accuracy {logs['accuracy']:.4f}")
                axes.clear()
                axes.plot(range(1, len(losses) + 1), losses, label="loss")
                axes.set_xlabel("epoch")
                axes.set_ylabel("loss")
                axes.set_title("Training loss")
                figure.canvas.draw_idle()

        progress(0, epochs, "epoch")
        model.fit(train["x"], train["y"], epochs=epochs, batch_size=self.batch_size, verbose=0, callbacks=[Feedback()])
        return model
