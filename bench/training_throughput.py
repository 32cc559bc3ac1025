"""Training throughput of generated Keras code against a hand-written script of the same network.

Both train the example's digits CNN on scikit-learn's bundled digits for the same epochs and
batch size, in this process, one after the other; the figure is samples per second of
``model.fit`` (compile and the first, tracing epoch excluded) and their ratio.

    python bench/training_throughput.py [--epochs 5] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def hand_written():
    import keras

    pixels = keras.Input(shape=(64,), name="pixels")
    x = keras.layers.Reshape((8, 8, 1), name="image")(pixels)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="hidden")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(pixels, digit)


def generated():
    from deepforge_panel.libraries import library
    from deepforge_panel.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        project = Workspace(tmp).open("digits")
        keras_library = library("keras")
        cnn = keras_library.resources(project).find("digits-cnn")
        source = keras_library.generate(project, cnn.id)
        project.store.close()
    namespace: dict = {}
    exec(compile(source, "<generated digits-cnn>", "exec"), namespace)
    return namespace["build_model"]()


def throughput(model, x, y, epochs: int, batch_size: int) -> float:
    import keras

    keras.utils.set_random_seed(0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return epochs * len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target
    ours, theirs = generated(), hand_written()
    assert ours.count_params() == theirs.count_params(), "the two networks must be the same"
    generated_rate = throughput(ours, x, y, args.epochs, args.batch_size)
    hand_rate = throughput(theirs, x, y, args.epochs, args.batch_size)
    print(
        f"digits CNN, {ours.count_params()} parameters, {args.epochs} epochs of {len(x)} samples, batch {args.batch_size}"
    )
    print(f"  generated code:   {generated_rate:,.0f} samples/s")
    print(f"  hand-written:     {hand_rate:,.0f} samples/s")
    print(f"  ratio generated/hand-written: {generated_rate / hand_rate:.3f}")


if __name__ == "__main__":
    main()
