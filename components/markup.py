"""Text from users (names, code, messages, console) made inert for the panes that render markup.

Markdown panes (``Alert`` is one) pass inline HTML through to the page, and toasts render theirs:
every value that came from a user, a peer, a job or an error message goes through one of these
before it is interpolated, so it shows as typed and never runs.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_text", "md_block", "md_code", "md_text"]

_INLINE = re.compile(r"[\\`*\[\]<>&$|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
"""Characters that start Markdown inline markup, raw HTML, entities, math or tables (``_`` only where it can)."""
_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])", re.MULTILINE)
"""Block markers where they would start a heading, list, quote or rule."""


def html_text(value: object) -> str:
    """``value`` as HTML text (quotes included, so it may also stand in an attribute)."""
    return html.escape(str(value), quote=True)


def md_text(value: object) -> str:
    """``value`` as literal Markdown text: no markup, HTML, entity or math in it is read; lines are kept."""
    text = _INLINE.sub(lambda match: "\\" + match.group(0), str(value))
    text = _LINE_START.sub(lambda match: f"{match.group(1)}{match.group(2)[:-1]}\\{match.group(2)[-1]}", text)
    return "  \n".join(text.split("\n"))


def md_code(value: object) -> str:
    """``value`` as an inline code span, fenced by more backticks than it holds (a backtick cannot end it early)."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_block(code: str, language: str = "") -> str:
    """``code`` as a fenced block, fenced by more backticks than any run inside it (it cannot close the block)."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", code)), default=0) + 1)
    return f"{fence}{language}\n{code.rstrip()}\n{fence}"
