"""Import time of large Keras models: ``keras.applications`` built with ``weights=None`` (nothing downloaded).

    python bench/keras_import.py [--repeat 5]

For each model: the clock runs from the file (a saved ``.keras``) to the architecture written in
the project document, the way ``deepforge-panel architecture import`` does it (read the config,
plan every layer, rebuild each in Keras to check it, one transaction). Keras is imported and
warm before the clock starts; its own import is printed once. Then the export as Python and the
shape check the editor asks for (every layer computed by a cold ShapeComputer, in process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from pycrdt import Doc

MODELS = {
    "ResNet50": {"input_shape": (224, 224, 3)},
    "EfficientNetB0": {"input_shape": (224, 224, 3)},
    "DenseNet121": {"input_shape": (224, 224, 3)},
    "MobileNetV2": {"input_shape": (224, 224, 3)},
}


def main(repeat: int) -> None:
    started = time.perf_counter()
    import keras

    print(
        f"import keras: {time.perf_counter() - started:.1f} s (Keras {keras.__version__}, Python {sys.version.split()[0]})"
    )
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView
    from deepforge_panel.libraries.keras.io import export_python, import_model
    from deepforge_panel.libraries.keras.shape_worker import ShapeComputer
    from deepforge_panel.project import Project

    with tempfile.TemporaryDirectory() as folder:
        for name, kwargs in MODELS.items():
            model = getattr(keras.applications, name)(weights=None, **kwargs)
            path = Path(folder) / f"{name}.keras"
            model.save(path)
            samples = []
            for _ in range(repeat):
                project = Project(Doc(), name="bench")
                clock = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arch_id = import_model(project, path)
                samples.append(time.perf_counter() - clock)
            arch = ArchitecturesView(project).get(arch_id)
            clock = time.perf_counter()
            export_python(arch)
            export = time.perf_counter() - clock
            clock = time.perf_counter()
            shapes = ShapeComputer().check(arch)
            check = time.perf_counter() - clock
            assert all("shape" in r for r in shapes.values()), name
            print(
                f"{name:<15} {len(model.layers):4d} layers  import median {statistics.median(samples) * 1000:7.1f} ms "
                f"(min {min(samples) * 1000:.1f}, n={repeat})  export {export * 1000:6.1f} ms  "
                f"shapes {check * 1000:7.1f} ms"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    main(parser.parse_args().repeat)
