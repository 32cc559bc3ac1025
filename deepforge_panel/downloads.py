"""Downloads people can open: an artifact's formats (a model as ``.keras``, an array as ``.npy``...) and conversion.

An artifact is stored as ``deepforge:<serializer>\\n`` plus a payload (pickle by default). Which formats it
offers follows from its recorded type alone, so listing them imports nothing heavy; converting
deserializes the user's bytes, which happens in a worker process (:mod:`deepforge_panel.download_worker`),
so the server never imports TensorFlow nor unpickles artifact bytes. A :class:`Converter` serves some
types; the built-in ones cover numpy, pandas and matplotlib, a library adds its own through
:meth:`~deepforge_panel.libraries.base.Library.download_converter` (Keras: trained models as ``.keras``),
and every artifact also downloads as a pickle, with a note on how to load it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import pickle
import sys
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from deepforge_panel.errors import ProjectError

__all__ = [
    "PICKLE",
    "Converter",
    "DownloadError",
    "DownloadFormat",
    "convert",
    "converter",
    "converters",
    "find_format",
    "format_for_path",
    "formats",
    "pickle_note",
]

WORKER = [sys.executable, "-m", "deepforge_panel.download_worker"]
WORKER_TIMEOUT = 600.0
"""Seconds a conversion may take (importing TensorFlow alone takes ~10)."""
ERROR_PREFIX = "deepforge-download-error: "
"""Starts the worker's one line saying why a conversion failed, among whatever else its libraries print."""
_HEADER = b"deepforge:"
_PICKLE_HEADER = b"deepforge:pickle\n"


class DownloadError(ProjectError):
    """An artifact could not be converted to the format asked for; the message says which and why."""


@dataclass(frozen=True)
class DownloadFormat:
    """One way to download an artifact: ``converter`` writes it as a ``extension`` file of type ``mime``."""

    converter: str
    label: str
    extension: str
    mime: str
    opener: str = ""
    """Python that opens the file, e.g. ``numpy.load(path)``; empty when any viewer does."""
    note: str = ""
    """Plain text on what opening it needs (shown beside the download button)."""

    @property
    def key(self) -> str:
        """Unique among an artifact's formats, e.g. ``"numpy.npy"``."""
        return f"{self.converter}{self.extension}"


class Converter(ABC):
    """Download formats for some artifact types, and how to write an artifact in each (inside the worker)."""

    name: ClassVar[str]

    @abstractmethod
    def formats(self, type_name: str) -> list[DownloadFormat]:
        """The formats an artifact of ``type_name`` (e.g. ``"numpy.ndarray"``) downloads as; cheap, imports nothing."""

    @abstractmethod
    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        """Write the artifact stored as ``data`` to ``path`` in ``fmt``; runs in the worker process only."""

    def load(self, data: bytes) -> Any:
        """The object stored as ``data`` (deserialized as a job's input is)."""
        from deepforge_panel.jobruntime.deepforge import serialization

        return serialization.loads(data)


def _format(converter: str, label: str, extension: str, mime: str, opener: str = "", note: str = "") -> DownloadFormat:
    return DownloadFormat(converter, f"{label} ({extension})", extension, mime, opener, note)


class NumpyConverter(Converter):
    name = "numpy"

    def formats(self, type_name: str) -> list[DownloadFormat]:
        if type_name != "numpy.ndarray":
            return []
        return [_format(self.name, "NumPy array", ".npy", "application/x-npy", "numpy.load(path)")]

    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        import numpy

        array = self.load(data)
        if not isinstance(array, numpy.ndarray):
            raise TypeError(f"the artifact holds a {type(array).__name__}, not a numpy array")
        numpy.save(path, array, allow_pickle=False)


class PandasConverter(Converter):
    name = "pandas"
    TYPES = ("pandas.core.frame.DataFrame", "pandas.core.series.Series")

    def formats(self, type_name: str) -> list[DownloadFormat]:
        if type_name not in self.TYPES:
            return []
        found = [_format(self.name, "CSV table", ".csv", "text/csv", "pandas.read_csv(path, index_col=0)")]
        if type_name == self.TYPES[0] and importlib.util.find_spec("pyarrow") is not None:
            found.append(
                _format(
                    self.name,
                    "Parquet table",
                    ".parquet",
                    "application/vnd.apache.parquet",
                    "pandas.read_parquet(path)",
                )
            )
        return found

    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        import pandas

        table = self.load(data)
        if not isinstance(table, (pandas.DataFrame, pandas.Series)):
            raise TypeError(f"the artifact holds a {type(table).__name__}, not a pandas table")
        if fmt.extension == ".parquet":
            table.to_parquet(path)
        else:
            table.to_csv(path)


class FigureConverter(Converter):
    name = "matplotlib"

    def formats(self, type_name: str) -> list[DownloadFormat]:
        if type_name != "matplotlib.figure.Figure":
            return []
        return [
            _format(self.name, "PNG image", ".png", "image/png", note="Opens in any image viewer."),
            _format(self.name, "SVG image", ".svg", "image/svg+xml", note="Opens in a web browser or a vector editor."),
        ]

    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        figure = self.load(data)
        if not isinstance(figure, Figure):
            raise TypeError(f"the artifact holds a {type(figure).__name__}, not a matplotlib figure")
        figure.savefig(path, format=fmt.extension.lstrip("."))


class BytesConverter(Converter):
    """An uploaded file (stored as ``bytes``): the file itself, as it was uploaded."""

    name = "file"

    def formats(self, type_name: str) -> list[DownloadFormat]:
        if type_name != "bytes":
            return []
        return [
            DownloadFormat(self.name, "The file itself", "", "application/octet-stream", note="Its bytes as stored.")
        ]

    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        content = self.load(data)
        if not isinstance(content, bytes):
            raise TypeError(f"the artifact holds a {type(content).__name__}, not bytes")
        path.write_bytes(content)


PICKLE_OPENER = "pickle.load(open(path, 'rb'))"


def pickle_note(type_name: str) -> str:
    """Which package loading an artifact's pickle needs, as plain text."""
    module = type_name.rpartition(".")[0]
    if not module:
        needs = "Plain Python: loading needs no package."
    elif module.split(".")[0] == "operation":
        needs = f"Loading needs the class {type_name} importable, as in the job that made it."
    else:
        needs = f"Loading needs {module.split('.')[0]} installed (it defines {type_name})."
    return f"A Python pickle. {needs} Unpickle only files you trust."


class PickleConverter(Converter):
    """Any artifact, as the pickle it is stored as (or as one made from it, for another serializer)."""

    name = "pickle"

    def formats(self, type_name: str) -> list[DownloadFormat]:
        return [
            _format(
                self.name, "Python pickle", ".pkl", "application/octet-stream", PICKLE_OPENER, pickle_note(type_name)
            )
        ]

    def write(self, data: bytes, fmt: DownloadFormat, path: Path) -> None:
        path.write_bytes(pickle.dumps(self.load(data), protocol=pickle.HIGHEST_PROTOCOL))


PICKLE = PickleConverter()
BUILTIN: tuple[Converter, ...] = (NumpyConverter(), PandasConverter(), FigureConverter(), BytesConverter())


def converters() -> list[Converter]:
    """The libraries' converters, then the built-in ones, then the pickle every artifact has."""
    from deepforge_panel.libraries.base import loaded_libraries

    found = [c for c in (lib.download_converter() for lib in loaded_libraries()) if c is not None]
    return [*found, *BUILTIN, PICKLE]


def converter(name: str) -> Converter:
    """The converter called ``name``; ValueError lists the known ones."""
    known = converters()
    for candidate in known:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown download converter {name!r}; known: {', '.join(c.name for c in known)}")


def formats(type_name: str) -> list[DownloadFormat]:
    """Every format an artifact of ``type_name`` downloads as, the most specific first, the pickle last."""
    return [fmt for c in converters() for fmt in c.formats(type_name)]


def find_format(type_name: str, key: str) -> DownloadFormat:
    """The format ``key`` (e.g. ``"numpy.npy"``) of an artifact of ``type_name``; ValueError lists the offered ones."""
    offered = formats(type_name)
    for fmt in offered:
        if fmt.key == key:
            return fmt
    raise ValueError(f"a {type_name} does not download as {key!r}; it does as {', '.join(f.key for f in offered)}")


def format_for_path(type_name: str, path: str | Path, artifact: str = "") -> DownloadFormat:
    """The format whose extension ``path`` has; ProjectError listing the offered extensions otherwise."""
    offered = formats(type_name)
    suffix = Path(path).suffix.lower()
    for fmt in offered:
        if fmt.extension == suffix:
            return fmt
    for fmt in offered:
        if fmt.extension == "":  # a file kept as it came (an upload): whatever its name
            return fmt
    extensions = ", ".join(fmt.extension for fmt in offered)
    raise ProjectError(
        f"artifact {artifact!r} holds a {type_name}, which does not export as {suffix or 'a file without extension'}: "
        f"it exports as {extensions}",
        artifact,
    )


async def convert(data: bytes, type_name: str, fmt: DownloadFormat, artifact: str = "") -> bytes:
    """The artifact stored as ``data`` in ``fmt``; DownloadError says why not (corrupt bytes, a missing package).

    A pickle stored as one is sent as it is, without starting the worker; everything else is converted there.
    """
    if fmt.converter == PICKLE.name:
        if data.startswith(_PICKLE_HEADER):
            return data[len(_PICKLE_HEADER) :]
        if not data.startswith(_HEADER):
            return data  # stored before the header existed: a bare pickle
    with tempfile.TemporaryDirectory(prefix="deepforge-download-") as folder:
        out = Path(folder) / f"artifact{fmt.extension}"
        await _run_worker(data, type_name, fmt, out, artifact)
        return out.read_bytes()


async def _run_worker(data: bytes, type_name: str, fmt: DownloadFormat, out: Path, artifact: str) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = await asyncio.create_subprocess_exec(
        *WORKER,
        type_name,
        fmt.key,
        str(out),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    what = f"artifact {artifact!r}" if artifact else "the artifact"
    try:
        _, stderr = await asyncio.wait_for(process.communicate(data), WORKER_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise DownloadError(
            f"could not convert {what} to {fmt.label}: it took more than {WORKER_TIMEOUT:.0f} s", artifact
        ) from None
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0 or not out.is_file():
        raise DownloadError(f"could not convert {what} to {fmt.label}: {_reason(stderr)}", artifact)


def _reason(stderr: bytes) -> str:
    """The worker's error line, else the last line it printed."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    marked = [line[len(ERROR_PREFIX) :] for line in lines if line.startswith(ERROR_PREFIX)]
    return (marked or lines or ["the conversion process failed without saying why"])[-1]
