"""Keyboard shortcuts for the whole page: Ctrl+Enter runs, Ctrl+S commits (Cmd on macOS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from panel.custom import JSComponent


class Shortcuts(JSComponent):
    """An invisible component that forwards the workbench's shortcuts to Python callbacks."""

    _esm = """
    export function render({ model }) {
      const handler = (event) => {
        if (!(event.ctrlKey || event.metaKey)) return
        if (event.key === "Enter") { event.preventDefault(); model.send_msg({ action: "run" }) }
        else if (event.key === "s" || event.key === "S") { event.preventDefault(); model.send_msg({ action: "commit" }) }
      }
      document.addEventListener("keydown", handler, true)
      model.on("remove", () => document.removeEventListener("keydown", handler, true))
      const el = document.createElement("span")
      el.className = "df-shortcuts"
      return el
    }
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.actions: dict[str, Callable[[], None]] = {}

    def _handle_msg(self, msg: Any) -> None:
        action = self.actions.get(str(msg.get("action"))) if isinstance(msg, dict) else None
        if action is not None:
            action()
