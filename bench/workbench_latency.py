"""Workbench figures: server start, a remote edit's time to reach a second tab, and a streaming run's cost to the page.

    python bench/workbench_latency.py [--edits 50] [--steps 100]

Start: spawn `deepforge-panel serve` on a fresh home and time until GET / answers 200, and
until Chromium shows the example's pipeline graph. Remote edit: two Chromium tabs on the
example; tab A adds a node with the "Add node" button, and the clock stops when tab B
shows it (median and p95 over --edits edits).

Streaming: a job reports a metric every 100 ms for --steps steps (its value is the wall
clock when it was sent) and redraws a matplotlib figure each step, while the page shows the
Executions tab. The page records when each metric point appears in its Bokeh plot
(latency = that time minus the value) and its main thread's longest task (Long Tasks API),
against the longest task of the same page sitting idle as long (the baseline).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the browser tests' Chromium settings

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, free_port

STREAM_OPERATION = """import math
import time

import matplotlib.pyplot as plt
from deepforge import metric, progress


class Stream:
    def __init__(self, steps: int = 100, interval: float = 0.1):
        self.steps = steps
        self.interval = interval

    def execute(self):
        figure, axes = plt.subplots()
        values = []
        for step in range(1, self.steps + 1):
            metric("sent", time.time(), step)
            values.append(math.sin(step / 5))
            axes.clear()
            axes.plot(range(1, step + 1), values, label="signal")
            axes.set_title("Streamed signal")
            figure.canvas.draw_idle()
            progress(step, self.steps, "step")
            print(f"step {step}", flush=True)
            time.sleep(self.interval)
        return values
"""

WATCH_PAGE = """() => {
  window.__bench = {long: [], arrivals: [], seen: 0}
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) window.__bench.long.push(entry.duration)
  }).observe({type: 'longtask'})
  const poll = () => {
    for (const doc of (window.Bokeh ? Bokeh.documents : [])) for (const m of doc.all_models) {
      if (!(m.title && m.title.text === 'sent' && m.renderers)) continue
      const line = m.renderers.find(r => r.glyph && r.glyph.type === 'Line')
      const sent = line ? line.data_source.data.y : []
      const now = (performance.timeOrigin + performance.now()) / 1000
      for (let i = window.__bench.seen; i < sent.length; i++) window.__bench.arrivals.push(now - sent[i])
      window.__bench.seen = Math.max(window.__bench.seen, sent.length)
    }
    requestAnimationFrame(poll)
  }
  requestAnimationFrame(poll)
}"""

COUNT_NODES = """() => {
  const walk = (root) => {
    let n = root.querySelectorAll('.react-flow__node').length
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) n += walk(el.shadowRoot)
    return n
  }
  return walk(document)
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        start = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deepforge_panel.cli",
                "serve",
                "--home",
                str(Path(tmp) / "home"),
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            while True:
                try:
                    token_file = Path(tmp) / "home" / "token"
                    token = token_file.read_text().strip() if token_file.exists() else ""
                    with urllib.request.urlopen(f"{url}?token={token}", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if time.perf_counter() - start > 60:
                        raise
                    time.sleep(0.02)
            served = time.perf_counter() - start
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                a = browser.new_context().new_page()
                a.goto(f"{url}?project=digits&token={token}")
                a.wait_for_function(f"() => ({COUNT_NODES})() > 0", timeout=60_000)
                rendered = time.perf_counter() - start
                latencies = remote_edits(browser, a, url, token, args.edits)
                idle_long, stream_long, arrivals = streaming(browser, url, Path(tmp) / "home", token, args.steps)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(f"server start to first page served (HTTP 200): {served:.2f} s")
    print(f"server start to pipeline graph shown in Chromium: {rendered:.2f} s")
    print(
        f"remote edit to second tab over {len(latencies)} edits: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    # The Long Tasks API reports only tasks over 50 ms: an idle page with none counts as 50 ms.
    print(
        f"streaming run, longest main-thread task: {stream_long:.0f} ms "
        f"(same page idle as long: {idle_long:.0f} ms; ratio to max(idle, 50 ms): {stream_long / max(idle_long, 50.0):.1f}x)"
    )
    print(
        f"metric sent to point shown, over {len(arrivals)} points: median {_quantile(arrivals, 0.5) * 1000:.0f} ms, "
        f"p95 {_quantile(arrivals, 0.95) * 1000:.0f} ms, max {max(arrivals) * 1000:.0f} ms"
    )


def remote_edits(browser: Any, a: Any, url: str, token: str, edits: int) -> list[float]:
    """Seconds from a click on "Add node" in page ``a`` until a second page on the digits example shows the node."""
    b = browser.new_context().new_page()
    b.goto(f"{url}?project=digits&token={token}")
    b.wait_for_function(f"() => ({COUNT_NODES})() > 0", timeout=60_000)
    button = a.get_by_role("button", name="Add node")
    latencies = []
    for _ in range(edits):
        before = b.evaluate(COUNT_NODES)
        t0 = time.perf_counter()
        button.click()
        b.wait_for_function(f"(n) => ({COUNT_NODES})() > n", arg=before, polling="raf", timeout=10_000)
        latencies.append(time.perf_counter() - t0)
    b.context.close()
    return latencies


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def streaming(browser: Any, url: str, home: Path, token: str, steps: int) -> tuple[float, float, list[float]]:
    """Longest task idle, longest task while a job streams, and each metric point's sent-to-shown latency (s)."""
    from deepforge_panel.crdt import Home
    from deepforge_panel.project import Project

    store = Home(home).create("stream")
    try:
        project = Project.open(store)
        operation = project.operations.add(STREAM_OPERATION)
        pipeline = project.pipelines.create("stream")
        project.pipelines.add_node(pipeline, operation, name="stream", attributes={"steps": steps})
        project.commit("a streaming job", author="bench")
    finally:
        store.close()
    page = browser.new_context(viewport={"width": 1500, "height": 950}).new_page()
    page.goto(f"{url}?project=stream&token={token}")
    page.wait_for_function(f"() => ({COUNT_NODES})() > 0", timeout=60_000)
    page.locator(".bk-tab", has_text="Executions").click()
    page.evaluate(WATCH_PAGE)
    idle = steps * 0.1
    page.wait_for_timeout(idle * 1000)
    idle_long = max(page.evaluate("() => window.__bench.long"), default=0.0)
    page.evaluate("() => { window.__bench.long = [] }")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("(n) => window.__bench.seen >= n", arg=steps, timeout=(60 + steps) * 1000)
    stream_long = max(page.evaluate("() => window.__bench.long"), default=0.0)
    arrivals = page.evaluate("() => window.__bench.arrivals")
    page.context.close()
    return idle_long, stream_long, arrivals


if __name__ == "__main__":
    main()
