"""Bring your own data: files dropped (or chosen) in the Artifacts tab become artifacts, each with a progress bar.

The browser sends each file as the body of the REST API's upload route (``POST api/v1/projects/{project}/
artifacts``), so it streams: the server writes it to a temporary file as it arrives and on to the project's
storage, never holding it whole in memory; the page's sign-in cookie goes with it. The new artifact reaches
this and every other page through the project's document, like any artifact; its provenance says it was
uploaded, from which file, when and by whom. An operation given it (through an Input node) receives its bytes.
"""

from __future__ import annotations

from typing import Any

import param
from panel.custom import JSComponent

__all__ = ["UploadZone"]


class UploadZone(JSComponent):
    """A drop zone that uploads files as artifacts of ``project``; ``last`` says how the latest upload ended."""

    project = param.String(default="", doc="The project's id, as the API names it.")
    author = param.String(default="", doc="Who uploads (this tab's identity), recorded in the provenance.")
    last = param.Dict(default={}, doc="The latest upload's end: {file, ok, error, artifact}.")

    _esm = """
    const API = "api/v1"  // relative to the page, so a served prefix is kept

    const nameOf = (file) => file.name.trim().replace(/[\\/\\\\]/g, "_").slice(0, 200) || "upload"

    export function render({ model }) {
      const zone = document.createElement("div")
      zone.className = "df-upload"
      zone.innerHTML = `
        <label class="df-upload-target">
          <strong>Upload data</strong>: drop files here, or <span class="df-upload-pick">choose files</span>.
          Each becomes an artifact; an Input node feeds it to a pipeline.
          <input type="file" multiple hidden data-df-upload>
        </label>
        <div class="df-upload-list"></div>`
      const input = zone.querySelector("input")
      const list = zone.querySelector(".df-upload-list")

      const upload = (file) => {
        const row = document.createElement("div")
        row.className = "df-upload-row"
        const label = document.createElement("span")
        label.className = "df-upload-name"
        label.textContent = file.name  // text, never markup
        const bar = document.createElement("progress")
        bar.max = Math.max(file.size, 1)
        bar.value = 0
        const state = document.createElement("span")
        state.className = "df-upload-state"
        state.textContent = "0 %"
        row.append(label, bar, state)
        list.prepend(row)
        const end = (ok, error, artifact) => {
          row.classList.add(ok ? "done" : "failed")
          state.textContent = ok ? "uploaded" : error
          if (ok) bar.value = bar.max
          model.send_msg({ file: file.name, ok, error, artifact })
        }
        const query = new URLSearchParams({ name: nameOf(file), filename: file.name })
        if (model.author) query.set("author", model.author)
        const xhr = new XMLHttpRequest()
        xhr.open("POST", `${API}/projects/${encodeURIComponent(model.project)}/artifacts?${query}`)
        xhr.upload.onprogress = (event) => {
          bar.value = event.loaded
          state.textContent = `${Math.floor((100 * event.loaded) / (event.total || 1))} %`
        }
        xhr.onload = () => {
          let body = {}
          try { body = JSON.parse(xhr.responseText) } catch (e) {}
          if (xhr.status >= 200 && xhr.status < 300) end(true, "", body.id || "")
          else end(false, body.error || `the server answered ${xhr.status}`, "")
        }
        xhr.onerror = () => end(false, "the upload was cut off (is the server running?)", "")
        xhr.send(file)  // the file itself: the browser streams it from disk
      }
      const take = (files) => { for (const file of files) upload(file) }

      input.addEventListener("change", () => { take(input.files); input.value = "" })
      for (const kind of ["dragenter", "dragover"]) {
        zone.addEventListener(kind, (event) => { event.preventDefault(); zone.classList.add("over") })
      }
      zone.addEventListener("dragleave", () => zone.classList.remove("over"))
      zone.addEventListener("drop", (event) => {
        event.preventDefault()
        zone.classList.remove("over")
        take(event.dataTransfer.files)
      })
      return zone
    }
    """

    _stylesheets = [
        """
        .df-upload { border: 2px dashed var(--panel-border-color, #999); border-radius: 6px; padding: 10px 14px;
                     color: var(--panel-on-background-color, inherit); }
        .df-upload.over { border-color: var(--panel-primary-color, #0072b5);
                          background: color-mix(in srgb, var(--panel-primary-color, #0072b5) 8%, transparent); }
        .df-upload-target { cursor: pointer; display: block; }
        .df-upload-pick { text-decoration: underline; }
        .df-upload-row { display: flex; gap: 10px; align-items: center; margin-top: 6px; }
        .df-upload-name { flex: 0 1 40%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .df-upload-row progress { flex: 1 1 auto; }
        .df-upload-row.failed .df-upload-state { color: #c0392b; }
        """
    ]

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict):
            self.last = {key: msg.get(key) for key in ("file", "ok", "error", "artifact")}
