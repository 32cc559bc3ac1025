"""The escapes every component applies to user text, checked through Panel's own Markdown renderer."""

from __future__ import annotations

import html
import re

import panel as pn
import pytest

from deepforge_panel.components.markup import html_text, md_block, md_code, md_text

HOSTILE = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(1)</script>",
    "`<img src=x onerror=alert(1)>`",
    "``` <svg onload=alert(1)>",
    "<!-- hidden --> &lt;b&gt;",
    "*bold* _it_ snake_case __d__ ~~gone~~ $x$ a|b [l](javascript:alert(1))",
    "# heading",
    "1. item",
    "- item\n+ two\n> quote\n===",
    "back\\slash\\<b>",
]


def rendered(markdown: str) -> str:
    """The HTML Panel sends to the browser for ``markdown``."""
    pane = pn.pane.Markdown(markdown)
    return html.unescape(pane._transform_object(markdown)["object"])


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>\n?", "\n", fragment))).strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_md_text_shows_the_value_as_typed_with_no_markup(value: str) -> None:
    out = rendered(md_text(value))
    assert re.findall(r"<(\w+)", out) == ["p"] + ["br"] * value.count("\n"), out
    assert text_of(out) == value


def test_md_text_leaves_ordinary_names_readable() -> None:
    for name in ("train.model", "digits-cnn", "b1_1x1", "function 'bad', line 2"):
        assert md_text(name) == name


@pytest.mark.parametrize("value", HOSTILE)
def test_md_code_is_one_code_span_whatever_backticks_the_value_holds(value: str) -> None:
    out = rendered(f"name {md_code(value)} end")
    assert re.findall(r"<(\w+)", out) == ["p", "code"], out
    assert text_of(out).startswith("name ") and text_of(out).endswith(" end")


def test_md_block_cannot_be_closed_from_inside() -> None:
    code = "````\n<img src=x onerror=alert(1)>\n```"
    out = rendered(md_block(code, "text") + "\n\nafter")
    assert "<img" not in out.replace("&lt;img", "")
    assert out.rstrip().endswith("<p>after</p>")


def test_html_text_escapes_markup_and_quotes() -> None:
    assert html_text('<a href="x">\'</a>') == "&lt;a href=&quot;x&quot;&gt;&#x27;&lt;/a&gt;"
