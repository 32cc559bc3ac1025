"""The jobs of one execution drawn as a graph, coloured by status (inline JavaScript, no bundle)."""

from __future__ import annotations

from typing import Any, ClassVar

import param
from panel.custom import JSComponent

from deepforge_panel.executions import Execution, JobId

STATUS_COLORS: dict[str, str] = {
    "pending": "#bdbdbd",
    "queued": "#9ecae1",
    "running": "#3182bd",
    "succeeded": "#31a354",
    "cached": "#a1d99b",
    "failed": "#de2d26",
    "cancelled": "#fd8d3c",
    "skipped": "#d9d9d9",
}
"""Fill colour of a job box per status."""


def layout(execution: Execution) -> dict[str, tuple[int, int]]:
    """Job id -> (depth, row): depth is the longest path from a source, rows ordered by name."""
    upstream: dict[JobId, set[JobId]] = {jid: set() for jid in execution.jobs}
    for edge in execution.edges:
        src, dst = JobId(edge["src"]), JobId(edge["dst"])
        if dst in upstream and src in upstream:
            upstream[dst].add(src)
    depth: dict[JobId, int] = {}

    def depth_of(jid: JobId, seen: frozenset[JobId] = frozenset()) -> int:
        if jid not in depth:
            parents = [p for p in upstream[jid] if p not in seen]
            depth[jid] = 1 + max((depth_of(p, seen | {jid}) for p in parents), default=-1)
        return depth[jid]

    columns: dict[int, list[JobId]] = {}
    for jid in execution.jobs:
        columns.setdefault(depth_of(jid), []).append(jid)
    return {
        jid: (d, row)
        for d, ids in columns.items()
        for row, jid in enumerate(sorted(ids, key=lambda j: execution.jobs[j].name))
    }


class JobGraph(JSComponent):
    """The jobs of one execution as an SVG graph, coloured by status; clicking a job sets ``selected`` (clicking the
    one already highlighted triggers it again, so a view that highlights the job it follows learns it was chosen).

    Each job is a ``<g class="df-job df-status-STATUS" data-status=STATUS data-name=NAME>`` holding
    its name and status as text, so browser tests find them in the DOM.
    """

    jobs = param.List(default=[], doc="One dict per job: id, name, status, label, color, depth, row.")
    edges = param.List(default=[], doc="One dict per edge: src and dst job ids.")
    selected = param.String(default=None, allow_None=True, doc="Id of the highlighted job; set by a click.")

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("pick") == self.selected:
            self.param.trigger("selected")

    _esm = """
const SVG = "http://www.w3.org/2000/svg";
const W = 150, H = 46, GX = 56, GY = 22, PAD = 10;
const plain = (v) => (v instanceof Map ? Object.fromEntries(v) : v);
function node(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}
export function render({ model }) {
  const root = document.createElement("div");
  root.className = "df-job-graph";
  let shapes = {}, key = null;
  const jobs = () => (model.jobs || []).map(plain);
  const edges = () => (model.edges || []).map(plain);
  function draw() {
    root.replaceChildren();
    shapes = {};
    const pos = {};
    let width = 0, height = 0;
    for (const j of jobs()) {
      const x = PAD + j.depth * (W + GX), y = PAD + j.row * (H + GY);
      pos[j.id] = [x, y];
      width = Math.max(width, x + W + PAD);
      height = Math.max(height, y + H + PAD);
    }
    const svg = node("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "df-job-graph-svg" });
    for (const e of edges()) {
      const a = pos[e.src], b = pos[e.dst];
      if (!a || !b) continue;
      const x1 = a[0] + W, y1 = a[1] + H / 2, x2 = b[0], y2 = b[1] + H / 2, mx = (x1 + x2) / 2;
      svg.appendChild(node("path", { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, class: "df-edge" }));
    }
    for (const j of jobs()) {
      const [x, y] = pos[j.id];
      const g = node("g", { "data-job": j.id, "data-name": j.name, transform: `translate(${x},${y})` });
      const title = node("title", {});
      const rect = node("rect", { width: W, height: H, rx: 6, ry: 6 });
      const name = node("text", { x: W / 2, y: 19, class: "df-job-name" });
      name.textContent = j.name;
      const status = node("text", { x: W / 2, y: 36, class: "df-job-status" });
      g.append(title, rect, name, status);
      g.addEventListener("click", () => {
        if (model.selected === j.id) model.send_msg({ pick: j.id });
        else model.selected = j.id;
      });
      svg.appendChild(g);
      shapes[j.id] = { g, rect, status, title };
    }
    root.appendChild(svg);
  }
  function paint() {
    const current = jobs();
    const shape = JSON.stringify([current.map((j) => [j.id, j.name, j.depth, j.row]), edges()]);
    if (shape !== key) { key = shape; draw(); }
    for (const j of current) {
      const s = shapes[j.id];
      if (!s) continue;
      s.g.setAttribute("class", `df-job df-status-${j.status}` + (j.id === model.selected ? " df-selected" : ""));
      s.g.setAttribute("data-status", j.status);
      s.rect.setAttribute("fill", j.color);
      s.status.textContent = j.label;
      s.title.textContent = `${j.name}: ${j.label}`;
    }
  }
  model.on("jobs", paint);
  model.on("edges", paint);
  model.on("selected", paint);
  paint();
  return root;
}
"""

    _stylesheets: ClassVar[list[str]] = [
        """
.df-job-graph { overflow: auto; }
.df-job { cursor: pointer; }
.df-job rect { stroke: #636363; stroke-width: 1; }
.df-job.df-selected rect { stroke: #000; stroke-width: 3; }
.df-job text { text-anchor: middle; font-family: sans-serif; pointer-events: none; }
.df-job-name { font-size: 13px; font-weight: 600; }
.df-job-status { font-size: 11px; }
.df-status-running text, .df-status-failed text, .df-status-succeeded text { fill: #fff; }
.df-edge { fill: none; stroke: #969696; stroke-width: 1.5; }
"""
    ]
