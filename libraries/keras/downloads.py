"""Trained Keras models download as ``.keras`` files, through the same export as ``deepforge-panel artifact export``.

Plugged into :mod:`deepforge_panel.downloads` by :meth:`KerasLibrary.download_converter`; Keras is imported
only in the download worker, when a model is written.
"""

from __future__ import annotations

from pathlib import Path

from deepforge_panel.downloads import Converter, DownloadFormat

__all__ = ["KerasConverter", "is_model_type"]

MODEL_CLASSES = frozenset({"Model", "Sequential", "Functional"})


def is_model_type(type_name: str) -> bool:
    """Whether an artifact's recorded type is a Keras model (``keras.src.models.functional.Functional``...)."""
    if not type_name.startswith("keras."):
        return False
    return ".models." in type_name or type_name.rsplit(".", 1)[-1] in MODEL_CLASSES


class KerasConverter(Converter):
    name = "keras"

    def formats(self, type_name: str) -> list[DownloadFormat]:
        if not is_model_type(type_name):
            return []
        return [
            DownloadFormat(
                self.name,
                "Keras model (.keras)",
                ".keras",
                "application/zip",
                "keras.saving.load_model(path)",
            )
        ]

    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        from deepforge_panel.libraries.keras.io import save_model

        save_model(data, path)
