"""Who is who: each browser tab's display name and color, asked once and remembered in the browser.

The choice lives in a cookie of the browser (``df_user``: JSON ``{"name", "color"}``), so every tab of
that browser opens as the same person; the session uses it as the author of commits and runs.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import unquote

import panel as pn
import param
from panel.custom import JSComponent

from deepforge_panel.components.markup import html_text
from deepforge_panel.components.session import Session

USER_COOKIE = "df_user"
MAX_NAME = 40
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#8c564b")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def parse_user(cookie: str | None) -> tuple[str, str] | None:
    """The (name, color) a ``df_user`` cookie holds, or None if it is missing or not one we wrote."""
    if not cookie:
        return None
    try:
        value = json.loads(unquote(cookie))
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    name, color = str(value.get("name") or "").strip(), str(value.get("color") or "")
    if not name or len(name) > MAX_NAME or not _COLOR.match(color):
        return None
    return name, color


def guest() -> tuple[str, str]:
    """A name and color for someone who has not chosen yet."""
    return f"guest-{secrets.token_hex(2)}", COLORS[secrets.randbelow(len(COLORS))]


class UserCookie(JSComponent):
    """Writes the chosen name and color into the browser's ``df_user`` cookie when they change."""

    user = param.String(default="", doc="The display name.")
    color = param.String(default="", doc="The color, #rrggbb.")

    _esm = """
    export function render({ model }) {
      const save = () => {
        const value = encodeURIComponent(JSON.stringify({ name: model.user, color: model.color }))
        document.cookie = `df_user=${value}; path=/; max-age=31536000; SameSite=Strict`
      }
      model.on(["user", "color"], save)
      const el = document.createElement("span")
      el.className = "df-user-cookie"
      return el
    }
    """


class Identity(pn.viewable.Viewer):
    """The header's "you are" badge and the form that sets this browser's name and color."""

    session = param.ClassSelector(class_=Session, doc="This browser tab's session: its author and color.")
    remembered = param.String(default=None, allow_None=True, doc="The browser's ``df_user`` cookie, if it sent one.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        chosen = parse_user(self.remembered)
        name, color = chosen or guest()
        self.session.param.update(author=name, color=color)
        self.cookie = UserCookie(width=0, height=0, margin=0)
        self.badge = pn.widgets.Button(label="", color="light", margin=(8, 10), css_classes=["df-you"])
        self.name_input = pn.widgets.TextInput(
            label="Your name", value=name, max_length=MAX_NAME, placeholder="shown to collaborators", width=260
        )
        self.color_input = pn.widgets.ColorPicker(label="Your color", value=color, width=90)
        self.save = pn.widgets.Button(label="Save", color="primary", align="end")
        self.save.on_click(lambda _event: self.choose(self.name_input.value, self.color_input.value))
        self.name_input.param.watch(
            lambda _event: self.choose(self.name_input.value, self.color_input.value), "enter_pressed"
        )
        self.problem = pn.pane.Markdown("", visible=False, css_classes=["df-you-problem"])
        self.form = pn.Card(
            pn.pane.Markdown(
                "Your name and color show to the people working on this project with you, and sign your commits and runs. This browser remembers them."
            ),
            pn.Row(self.name_input, self.color_input, self.save),
            self.problem,
            title="Who are you?",
            collapsible=False,
            visible=chosen is None,
            sizing_mode="stretch_width",
            css_classes=["df-identity"],
        )
        self.badge.on_click(lambda _event: self.form.param.update(visible=not self.form.visible))
        self._show_badge()

    def choose(self, name: str, color: str) -> bool:
        """Become ``name`` in ``color`` (remembered by this browser); refused with a message when not usable."""
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            self.problem.param.update(object=f"A name of 1 to {MAX_NAME} characters, please.", visible=True)
            return False
        if not _COLOR.match(color or ""):
            color = self.session.color
        self.session.param.update(author=name, color=color)
        self.cookie.param.update(user=name, color=color)
        self.problem.visible = False
        self.form.visible = False
        self._show_badge()
        return True

    def _show_badge(self) -> None:
        self.badge.label = f"● {self.session.author}"
        self.badge.stylesheets = [f":host(.df-you) .bk-btn {{ color: {self.session.color}; font-weight: 600; }}"]
        self.badge.description = html_text(f"You are {self.session.author}: click to change your name or color")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.form
