"""An execution as one self-contained HTML file: something to email or put next to a paper.

The report holds the pipeline's graph coloured by status, each job's status, times, attributes,
outputs, console tail, metrics and figures; figures are interactive Bokeh plots drawn by the
same code as the live execution monitor (:func:`deepforge_panel.components.figures.build`). A component
module though no widget: it draws with the components' Bokeh code; the CLI and the monitor use it.
BokehJS is inlined and nothing refers to another file or host, so the report opens offline.
Everything a user or a job wrote is escaped.
"""

from __future__ import annotations

import re
import time
from html import escape
from typing import TYPE_CHECKING, Any

from deepforge_panel.components.figures import build
from deepforge_panel.components.job_graph import STATUS_COLORS, layout
from deepforge_panel.errors import NotFound
from deepforge_panel.executions import Execution, Job

if TYPE_CHECKING:
    from bokeh.models import LayoutDOM

    from deepforge_panel.project import Project

__all__ = ["CONSOLE_LINES", "execution_report", "report_filename"]

CONSOLE_LINES = 40
"""Lines of each job's stdout (and of its stderr) kept in the report."""


def report_filename(execution: Execution) -> str:
    """A safe file name for the report: ``report-<pipeline>-<execution id>.html``."""
    stem = re.sub(r"[^\w.\-]+", "_", f"report-{execution.pipeline_name}-{execution.id}").strip("._")
    return f"{stem}.html"


def execution_report(project: Project, execution_id: str) -> str:
    """The report of execution ``execution_id`` (its id, ``latest`` or a pipeline's name) as one HTML page."""
    from bokeh.embed import components
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import INLINE

    from deepforge_panel.components.execution_monitor import format_duration, format_time

    execution = project.executions.find(execution_id)
    positions = layout(execution)
    jobs = sorted(execution.jobs.values(), key=lambda j: positions[j.id])
    plots: list[LayoutDOM] = []
    sections = [_job_section(project, job, plots) for job in jobs]
    script, divs = components(plots) if plots else ("", [])
    body = "\n".join(sections)
    for index, div in enumerate(divs):
        body = body.replace(_placeholder(index), div, 1)
    bokeh = ""
    if plots:
        # Only what is inlined: the files a bundle also lists are other models' (Panel's ESM loader, needed by
        # no plot here), each a request the offline file must not make.
        bundle = bundle_for_objs_and_resources(plots, INLINE)
        bokeh = bundle.scripts() + "".join(f"<style>{css}</style>" for css in bundle.css_raw)
    status = escape(execution.status)
    title = f"{execution.pipeline_name} · execution {execution.id} · {project.name}"
    facts = [
        f"project <b>{escape(project.name)}</b>",
        f"execution <code>{escape(execution.id)}</code>",
        f"commit <code>{escape(execution.commit[:10])}</code>",
        f"by {escape(execution.author)}" if execution.author else "",
        f"started {escape(format_time(execution.created))}" if execution.created else "",
        f"took {escape(format_duration(execution.created, execution.ended))}" if execution.ended else "",
    ]
    rows = "".join(
        f'<tr><td><a href="#job-{escape(j.id)}">{escape(j.name)}</a></td><td>{escape(_operation_name(project, j))}</td>'
        f"<td>{_badge(j.status)}</td><td>{escape(format_time(j.started))}</td>"
        f"<td>{escape(format_duration(j.started, j.ended))}</td></tr>"
        for j in jobs
    )
    error = f'<pre class="error">{escape(execution.error)}</pre>' if execution.error else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="DeepForge-Panel">
<title>{escape(title)}</title>
<style>{_CSS}</style>
{bokeh}
</head>
<body>
<header data-status="{status}">
<h1>{escape(execution.pipeline_name)} {_badge(execution.status)}</h1>
<p class="facts">{" · ".join(f for f in facts if f)}</p>
{error}
</header>
<section><h2>Pipeline</h2>{_graph_svg(execution, positions)}</section>
<section><h2>Jobs</h2>
<table class="jobs"><thead><tr><th>job</th><th>operation</th><th>status</th><th>started</th><th>duration</th></tr>
</thead><tbody>{rows}</tbody></table></section>
{body}
<footer>Report written {escape(time.strftime("%Y-%m-%d %H:%M:%S %z"))} by DeepForge-Panel.</footer>
{script}
</body>
</html>
"""


def _placeholder(index: int) -> str:
    return f"<!--df-plot-{index}-->"


def _badge(status: str) -> str:
    return f'<span class="status status-{escape(status)}">{escape(status)}</span>'


def _job_section(project: Project, job: Job, plots: list[LayoutDOM]) -> str:
    """One job's details; its figures and metric plots are appended to ``plots`` and left as placeholders."""
    from deepforge_panel.components.execution_monitor import (
        format_duration,
        format_time,
        metric_figure,
        natural_key,
        tail,
    )

    def plot(figure: dict[str, Any], scale: float) -> str:
        _axes, model = build(figure, scale)
        if model is None:
            return ""
        plots.append(model)
        heading = figure.get("suptitle") or ""
        caption = f"<figcaption>{escape(heading)}</figcaption>" if heading else ""
        return f'<figure class="plot">{caption}{_placeholder(len(plots) - 1)}</figure>'

    facts = [f"operation <b>{escape(_operation_name(project, job))}</b>" if job.operation else ""]
    if job.started is not None:
        facts.append(f"started {escape(format_time(job.started))}")
        facts.append(f"took {escape(format_duration(job.started, job.ended))}")
    if job.cached_from:
        made = job.cached_from
        facts.append(
            f"outputs reused from job <code>{escape(str(made.get('job', '')))}</code> of execution "
            f"<code>{escape(str(made.get('execution', '')))}</code>"
        )
    parts = [
        f'<section class="job" id="job-{escape(job.id)}" data-status="{escape(job.status)}">',
        f"<h2>{escape(job.name)} {_badge(job.status)}</h2>",
        f'<p class="facts">{" · ".join(f for f in facts if f)}</p>',
        _pairs("attributes", {name: repr(value) for name, value in sorted(job.attributes.items())}),
        _pairs("outputs", _outputs(project, job)),
    ]
    if job.error:
        parts.append(f'<pre class="error">{escape(job.error)}</pre>')
    if job.metrics:
        parts.append(_metrics_table(job.metrics, natural_key))
    figures = [plot(f, 1.0) for _, f in sorted(job.figures.items(), key=lambda item: natural_key(item[0]))]
    figures += [
        plot(metric_figure(name, series), 0.5)
        for name, series in sorted(job.metrics.items(), key=lambda item: natural_key(item[0]))
    ]
    if any(figures):
        parts.append(f'<div class="plots">{"".join(figures)}</div>')
    out, err = tail(job.stdout, CONSOLE_LINES), tail(job.stderr, CONSOLE_LINES)
    if out or err:
        parts.append(f"<details open><summary>console (last {CONSOLE_LINES} lines)</summary>")
        parts.append(f'<pre class="console stdout">{escape(out)}</pre>' if out else "")
        parts.append(f'<pre class="console stderr">{escape(err)}</pre>' if err else "")
        parts.append("</details>")
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _operation_name(project: Project, job: Job) -> str:
    """The name of the job's operation; its id when the project no longer has it (an Input or Output node's kind)."""
    try:
        return project.operations.get(job.operation).name
    except NotFound:
        return job.operation


def _outputs(project: Project, job: Job) -> dict[str, str]:
    """Output port -> the artifact it made, by name and content hash where the project still knows it."""
    shown = {}
    for port, artifact_id in sorted(job.outputs.items()):
        try:
            artifact = project.artifacts.get(artifact_id)
        except NotFound:
            shown[port] = f"{artifact_id} (no longer in the project)"
            continue
        shown[port] = f"{artifact.name}: {artifact.type}, {artifact.size} bytes, sha256 {artifact.hash[:16]}"
    return shown


def _pairs(label: str, pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    items = "".join(f"<dt>{escape(key)}</dt><dd><code>{escape(value)}</code></dd>" for key, value in pairs.items())
    return f'<dl class="pairs"><dt class="label">{escape(label)}</dt>{items}</dl>'


def _metrics_table(metrics: dict[str, list[tuple[int, float]]], key: Any) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{len(series)}</td><td>{_number(series[-1][1] if series else None)}</td>"
        f"<td>{_number(min((v for _, v in series), default=None))}</td>"
        f"<td>{_number(max((v for _, v in series), default=None))}</td></tr>"
        for name, series in sorted(metrics.items(), key=lambda item: key(item[0]))
    )
    return (
        '<table class="metrics"><thead><tr><th>metric</th><th>steps</th><th>last</th><th>min</th><th>max</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _number(value: float | None) -> str:
    return "" if value is None else escape(f"{value:.6g}")


_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _PAD = 150, 46, 56, 22, 10
"""Sizes of the graph's job boxes, as the live job graph (components/job_graph.py) draws them."""


def _graph_svg(execution: Execution, positions: dict[Any, tuple[int, int]]) -> str:
    """The jobs as an SVG graph, each box filled with its status's colour (as in the live monitor)."""

    corner = {
        jid: (_PAD + depth * (_BOX_W + _GAP_X), _PAD + row * (_BOX_H + _GAP_Y))
        for jid, (depth, row) in positions.items()
    }
    width = max((x + _BOX_W + _PAD for x, _ in corner.values()), default=2 * _PAD)
    height = max((y + _BOX_H + _PAD for _, y in corner.values()), default=2 * _PAD)
    shapes = []
    for edge in execution.edges:
        if edge["src"] in corner and edge["dst"] in corner:
            (ax, ay), (bx, by) = corner[edge["src"]], corner[edge["dst"]]
            x1, y1, x2, y2 = ax + _BOX_W, ay + _BOX_H / 2, bx, by + _BOX_H / 2
            middle = (x1 + x2) / 2
            shapes.append(f'<path class="edge" d="M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"/>')
    for jid, (x, y) in corner.items():
        job = execution.jobs[jid]
        name, status = escape(job.name), escape(job.status)
        label = name if len(job.name) <= 20 else escape(job.name[:19]) + "…"
        shapes.append(
            f'<a href="#job-{escape(jid)}"><g class="job status-{status}" data-name="{name}" data-status="{status}" '
            f'transform="translate({x},{y})"><title>{name}: {status}</title>'
            f'<rect width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="{STATUS_COLORS.get(job.status, "#bdbdbd")}"/>'
            f'<text x="{_BOX_W / 2}" y="19" class="name">{label}</text>'
            f'<text x="{_BOX_W / 2}" y="36" class="state">{status}</text></g></a>'
        )
    return (
        f'<svg class="graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="pipeline graph">{"".join(shapes)}</svg>'
    )


_CSS = """
:root { color-scheme: light dark; --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa;
  --line: #d1d9e0; --link: #0969da; --console: #1e1e1e; --console-fg: #e0e0e0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #161b22; --line: #3d444d; --link: #4493f8; }
}
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px 40px; background: var(--bg); color: var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 0 0 6px; }
a { color: var(--link); }
section { margin: 16px 0; padding: 12px 16px; background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; overflow-x: auto; }
.facts { color: var(--muted); margin: 2px 0 8px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.status { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  vertical-align: middle; background: #bdbdbd; color: #1f2328; }
.status-succeeded { background: #31a354; color: #fff; }
.status-cached { background: #a1d99b; }
.status-failed { background: #de2d26; color: #fff; }
.status-running { background: #3182bd; color: #fff; }
.status-queued { background: #9ecae1; }
.status-cancelled { background: #fd8d3c; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
table.metrics { margin: 8px 0; }
dl.pairs { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0; }
dl.pairs dt { color: var(--muted); }
dl.pairs dt.label { grid-column: 1 / -1; font-weight: 600; color: var(--fg); }
dl.pairs dd { margin: 0; overflow-wrap: anywhere; }
pre { margin: 6px 0; padding: 6px 10px; border-radius: 6px; white-space: pre-wrap; overflow-wrap: anywhere;
  font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre.console { background: var(--console); color: var(--console-fg); }
pre.stderr { color: #d7ccc8; border-left: 3px solid #8d6e63; }
pre.error { background: #ffebe9; color: #82071e; border-left: 3px solid #de2d26; }
@media (prefers-color-scheme: dark) { pre.error { background: #3d1214; color: #ffb3ad; } }
summary { cursor: pointer; color: var(--muted); }
.plots { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px; margin: 8px 0; }
figure.plot { margin: 0; padding: 8px; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: #1f2328; font-weight: 600; margin-bottom: 4px; }
svg.graph { display: block; }
svg.graph .edge { fill: none; stroke: #969696; stroke-width: 1.5; }
svg.graph rect { stroke: #636363; stroke-width: 1; }
svg.graph text { text-anchor: middle; font-family: sans-serif; fill: #1f2328; }
svg.graph .name { font-size: 13px; font-weight: 600; }
svg.graph .state { font-size: 11px; }
svg.graph .status-succeeded text, svg.graph .status-failed text, svg.graph .status-running text { fill: #fff; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
"""
