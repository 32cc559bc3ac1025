"""Code editors that do not answer the server with what it just showed them.

Panel's code editor (Ace) replaces its text for a value set on the server by a removal and an
insertion, and reports each step back as the user's edit: an empty text, then the text it was
shown. Those arrive after the server may have moved on (a newer version from a peer, another
operation selected), and the editors write what they receive into the document: an older version
over a newer one, one operation's code into another. :class:`EchoGuard` makes every code editor
on its page stay quiet while it follows the server; what the user types is sent as before.
"""

from __future__ import annotations

from panel.custom import JSComponent


class EchoGuard(JSComponent):
    """Invisible; one on a page guards all its code editors (Panel's ``AcePlot`` views), whenever they are built."""

    _esm = """
    export function render({ model }) {
      const Ace = window.Bokeh.Models.get("panel.models.ace.AcePlot")
      const View = Ace?.prototype.default_view
      const names = ["_update_code_from_model", "_update_code_from_editor", "_update_code_input_from_editor"]
      const known = View && names.every((name) => typeof View.prototype[name] === "function")
      if (known && !View.prototype._dfEchoGuard) {
        const proto = View.prototype
        const follow = proto._update_code_from_model
        proto._update_code_from_model = function () {
          this._dfFollowing = true
          try {
            follow.call(this)
          } finally {
            this._dfFollowing = false
          }
        }
        for (const name of names.slice(1)) {
          const report = proto[name]
          proto[name] = function () {
            if (!this._dfFollowing) report.call(this)
          }
        }
        proto._dfEchoGuard = true
      }
      const el = document.createElement("span")
      el.className = "df-echo-guard"
      el.dataset.guarding = String(Boolean(View?.prototype._dfEchoGuard))
      return el
    }
    """
