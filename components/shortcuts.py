"""Keyboard shortcuts for the whole page: Ctrl+Enter runs, Ctrl+S commits, Ctrl+Z undoes and
Ctrl+Shift+Z (or Ctrl+Y) redoes this tab's own edits (Cmd on macOS).

Undo and redo stay the browser's own where the key goes to text: a code editor, a text input or
a textarea (found on the event's composed path, since widgets draw inside shadow roots).
The page's dialog (the template's modal, which Ctrl+S opens) gives its first text field the focus when shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from panel.custom import JSComponent


class Shortcuts(JSComponent):
    """An invisible component that forwards the workbench's shortcuts to Python callbacks."""

    _esm = """
    export function render({ model }) {
      const editsText = (event) => event.composedPath().some((e) =>
        e instanceof HTMLElement && (
          e.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(e.tagName) ||
          e.classList.contains("ace_editor") || e.classList.contains("cm-editor")
        )
      )
      const handler = (event) => {
        if (!(event.ctrlKey || event.metaKey) || event.altKey) return
        const key = event.key.toLowerCase()
        let action = null
        if (event.key === "Enter") action = "run"
        else if (key === "s") action = "commit"
        else if ((key === "z" || key === "y") && !editsText(event))
          action = key === "y" || event.shiftKey ? "redo" : "undo"
        if (action === null) return
        event.preventDefault()
        model.send_msg({ action })
      }
      document.addEventListener("keydown", handler, true)
      // Widgets draw their inputs in shadow roots; Bootstrap focuses the dialog itself once shown, so focus after.
      const firstField = (root) => {
        const found = root.querySelector("input[type=text], textarea")
        if (found) return found
        for (const e of root.querySelectorAll("*")) {
          const inner = e.shadowRoot && firstField(e.shadowRoot)
          if (inner) return inner
        }
        return null
      }
      const modal = document.getElementById("pn-Modal")
      const shown = () => firstField(modal)?.focus()
      modal?.addEventListener("shown.bs.modal", shown)
      model.on("remove", () => {
        document.removeEventListener("keydown", handler, true)
        modal?.removeEventListener("shown.bs.modal", shown)
      })
      const el = document.createElement("span")
      el.className = "df-shortcuts"
      return el
    }
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.actions: dict[str, Callable[[], object]] = {}

    def _handle_msg(self, msg: Any) -> None:
        action = self.actions.get(str(msg.get("action"))) if isinstance(msg, dict) else None
        if action is not None:
            action()
