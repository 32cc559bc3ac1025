"""The download worker: converts one artifact to one format, in a process of its own.

    python -m deepforge_panel.download_worker TYPE FORMAT OUT < stored-bytes

Reads the stored bytes of an artifact of type ``TYPE`` on stdin and writes ``OUT`` in the format whose key
is ``FORMAT`` (see :mod:`deepforge_panel.downloads`). Deserializing user bytes (pickle, Keras) happens only
here, never in the server. Exit status 0 when ``OUT`` was written; otherwise 1, with one line starting
``deepforge-download-error:`` on stderr saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from deepforge_panel.downloads import ERROR_PREFIX, converter, find_format
from deepforge_panel.errors import ProjectError


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3:
        print(f"{ERROR_PREFIX}usage: python -m deepforge_panel.download_worker TYPE FORMAT OUT", file=sys.stderr)
        return 2
    type_name, key, out = args
    data = sys.stdin.buffer.read()
    try:
        fmt = find_format(type_name, key)
        converter(fmt.converter).write(data, fmt, Path(out))
    except Exception as exc:  # noqa: BLE001 - any failure of user bytes or a library is reported as one line
        Path(out).unlink(missing_ok=True)
        message = " ".join(str(exc).split()) or "no message"
        if not isinstance(exc, (ProjectError, TypeError)):  # ours say what is wrong; others need their kind
            message = f"{type(exc).__name__}: {message}"
        print(f"{ERROR_PREFIX}{message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
