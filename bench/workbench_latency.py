"""Two workbench figures: server start to first page served, and a remote edit's time to reach a second tab.

    python bench/workbench_latency.py [--edits 50]

Start: spawn `deepforge-panel serve` on a fresh home and time until GET / answers 200, and
until Chromium shows the example's pipeline graph. Remote edit: two Chromium tabs on the
example; tab A adds a node with the "Add node" button, and the clock stops when tab B
shows it (median and p95 over --edits edits).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the browser tests' Chromium settings

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, free_port

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
                    with urllib.request.urlopen(url, timeout=1) as response:
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
                a.goto(f"{url}?project=digits")
                a.wait_for_function(f"() => ({COUNT_NODES})() > 0", timeout=60_000)
                rendered = time.perf_counter() - start
                b = browser.new_context().new_page()
                b.goto(f"{url}?project=digits")
                b.wait_for_function(f"() => ({COUNT_NODES})() > 0", timeout=60_000)
                button = a.get_by_role("button", name="Add node")
                latencies = []
                for _ in range(args.edits):
                    before = b.evaluate(COUNT_NODES)
                    t0 = time.perf_counter()
                    button.click()
                    b.wait_for_function(f"(n) => ({COUNT_NODES})() > n", arg=before, polling="raf", timeout=10_000)
                    latencies.append(time.perf_counter() - t0)
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


if __name__ == "__main__":
    main()
