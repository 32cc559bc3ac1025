"""How job inputs and outputs become bytes: pickle by default, plus serializers libraries register.

A library's init code (run in the job before the operation) may register a serializer for
its own types, e.g. a model that needs custom objects restored before it can load.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_HEADER = b"deepforge:"
_PICKLE_PROTOCOL_2_OR_LATER = b"\x80"


@dataclass(frozen=True)
class Serializer:
    name: str
    accepts: Callable[[Any], bool]
    dump: Callable[[Any], bytes]
    load: Callable[[bytes], Any]


def _pickle_dump(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


_PICKLE = Serializer("pickle", lambda obj: True, _pickle_dump, pickle.loads)
BYTES = Serializer("bytes", lambda obj: False, bytes, bytes)
"""A file uploaded as an artifact (``deepforge:bytes`` and the file): an operation given it receives its bytes.
Load only: what operations return is pickled as before."""
_registry: list[Serializer] = [BYTES]


def register(*how: Any) -> None:
    """Register a serializer; newer registrations win. Two forms:

    ``register(name, accepts, dump, load)``: objects ``accepts`` approves become ``dump(obj) -> bytes`` and come
    back with ``load(bytes)``.

    ``register(cls, dump, load)``, as DeepForge's job runtime has it: objects of exactly class ``cls`` are
    written with ``dump(obj, outfile)`` and read with ``load(infile)`` (binary files).
    """
    if len(how) == 3 and isinstance(how[0], type):
        cls, dump_to, load_from = how

        def dump(obj: Any) -> bytes:
            buffer = io.BytesIO()
            dump_to(obj, buffer)
            return buffer.getvalue()

        name = f"{cls.__module__}.{cls.__qualname__}"  # as DeepForge names it
        _registry.insert(
            0, Serializer(name, lambda obj: type(obj) is cls, dump, lambda data: load_from(io.BytesIO(data)))
        )
        return
    if len(how) != 4 or not isinstance(how[0], str):
        raise TypeError("register(name, accepts, dump, load) or, as in DeepForge, register(cls, dump, load)")
    name, accepts, dump_bytes, load_bytes = how
    _registry.insert(0, Serializer(name, accepts, dump_bytes, load_bytes))


def dumps(obj: Any) -> bytes:
    serializer = next((s for s in _registry if s.accepts(obj)), _PICKLE)
    return _HEADER + serializer.name.encode() + b"\n" + serializer.dump(obj)


def loads(data: bytes) -> Any:
    if not data.startswith(_HEADER):
        return pickle.loads(data)
    name, _, payload = data[len(_HEADER) :].partition(b"\n")
    for serializer in [*_registry, _PICKLE]:
        if serializer.name == name.decode():
            return serializer.load(payload)
    if payload[:1] == _PICKLE_PROTOCOL_2_OR_LATER:
        return pickle.loads(payload)  # DeepForge's default for a type with no serializer registered: pickle
    raise ValueError(
        f"no serializer {name.decode()!r} registered to load this artifact; is its library's init code present?"
    )


def type_name(obj: Any) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
