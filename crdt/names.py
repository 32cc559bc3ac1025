"""The one rule for names people choose (pipelines, nodes, branches...): here, so the store can apply it too.

A name is shown, typed on a command line and stored; it is never a path segment (folders are named
by ids), but it may still end up in one by someone else's hand, so separators are refused as well.
"""

from __future__ import annotations

MAX_NAME_LENGTH = 100

NAME_RULE = (
    f"a name is 1 to {MAX_NAME_LENGTH} printable characters, without '/', '\\' or control characters, "
    "and neither starts nor ends with a space"
)


def name_problem(name: object, max_length: int = MAX_NAME_LENGTH) -> str | None:
    """Why ``name`` is not an acceptable name, or None when it is."""
    if not isinstance(name, str):
        return f"a name is text, not {type(name).__name__}"
    if not name or not name.strip():
        return "it is empty or blank"
    if len(name) > max_length:
        return f"it has {len(name)} characters, more than {max_length}"
    if name != name.strip():
        return "it starts or ends with a space"
    if not name.isprintable():
        bad = next(char for char in name if not char.isprintable())
        return f"it contains the control or invisible character {bad!r}"
    if "/" in name or "\\" in name:
        return "it contains a path separator ('/' or '\\')"
    if name in (".", ".."):
        return f"{name!r} is reserved"
    return None
