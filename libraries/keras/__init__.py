"""DeepForge-Keras: architectures in the document, a layer catalog generated from Keras, code generation, import/export.

Nothing here imports Keras; only building, importing and exporting models does, inside the call.
"""

from deepforge_panel.libraries.keras.architectures import (
    Architecture,
    ArchitectureError,
    ArchitecturesView,
)
from deepforge_panel.libraries.keras.catalog import layer_spec, load_catalog
from deepforge_panel.libraries.keras.codegen import build_model, generate_code
from deepforge_panel.libraries.keras.io import (
    ModelImportWarning,
    export_json,
    export_model_artifact,
    export_python,
    import_model,
    read_model_config,
)
from deepforge_panel.libraries.keras.library import KerasLibrary

__all__ = [
    "Architecture",
    "ArchitectureError",
    "ArchitecturesView",
    "KerasLibrary",
    "ModelImportWarning",
    "build_model",
    "export_json",
    "export_model_artifact",
    "export_python",
    "generate_code",
    "import_model",
    "layer_spec",
    "load_catalog",
    "read_model_config",
]
