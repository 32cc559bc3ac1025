"""Sync fan-out: one writer's map edits reaching N Yjs clients, through our server and the reference Node server.

    python bench/sync_fanout.py [--edits 10000] [--readers 10] [--rounds 1] [--latency 30]

Starts ``deepforge-panel serve`` on a fresh home (the edits go to the digits example's document,
durably, each one stored before it is relayed) and, on the same machine, the reference
y-websocket server (``y-websocket@1.5.4``'s ``bin/server.js``, in memory). The same Node script
(``tests/sync/js/fanout.js``: a writer and the readers as y-websocket providers in one process)
runs against each: the clock runs from the writer's first edit until every reader has the last.
Prints both times and their ratio (ours / reference), then the p50/p95 latency of a single edit
from one client to another through each server (``--latency`` runs of one edit to one reader).
Needs ``./scripts/setup-node``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "tests" / "sync" / "js"
REFERENCE = JS / "node_modules" / "y-websocket-reference" / "bin" / "server.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{log.read_text()}")
        time.sleep(0.05)


def start_ours(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    log = folder / "ours.log"
    home = folder / "home"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "deepforge_panel.cli", "serve", "--home", str(home), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_line(log, "is running at", process)
    token = (home / "token").read_text().strip() if (home / "token").exists() else ""
    return process, f"ws://127.0.0.1:{port}/sync", token


def start_reference(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = folder / "reference.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["node", str(REFERENCE)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=JS,
            env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
        )
    wait_for_line(log, "running at", process)
    return process, f"ws://127.0.0.1:{port}"


def fanout(url: str, room: str, readers: int, edits: int, token: str = "") -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(JS / "fanout.js"), url, room, str(readers), str(edits), *([token] if token else [])],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=JS,
    )
    if done.returncode != 0:
        raise RuntimeError(f"fanout.js failed against {url}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="runs against each server, alternating; medians shown")
    parser.add_argument("--latency", type=int, default=30, help="single edits timed from one client to another")
    parser.add_argument("--pages", type=int, default=30, help="edits timed from one browser page to another (0: none)")
    args = parser.parse_args()
    if not REFERENCE.exists():
        sys.exit("the Node packages are missing: run ./scripts/setup-node")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours, ours_url, token = start_ours(folder)
        reference, reference_url = start_reference(folder)
        try:
            times: dict[str, list[int]] = {"ours": [], "reference": []}
            for round_number in range(args.rounds):
                for name, url, key in (("ours", ours_url, token), ("reference", reference_url, "")):
                    result = fanout(url, "digits", args.readers, args.edits, key)
                    times[name].append(result["total_ms"])
                    print(
                        f"round {round_number + 1} {name:>9}: {result['total_ms']:>6} ms until all"
                        f" {args.readers} readers had edit {args.edits} (writer's loop {result['write_ms']} ms)",
                        flush=True,
                    )
            latency: dict[str, list[int]] = {"ours": [], "reference": []}
            for _ in range(args.latency):
                for name, url, key in (("ours", ours_url, token), ("reference", reference_url, "")):
                    latency[name].append(fanout(url, "digits", 1, 1, key)["total_ms"])
            pages = page_latencies(ours_url, token, args.pages) if args.pages else []
        finally:
            stop(ours)
            stop(reference)
    ours_ms, reference_ms = statistics.median(times["ours"]), statistics.median(times["reference"])
    print(f"{args.edits} edits to {args.readers} readers:")
    print(f"  ours (deepforge-panel /sync, durable): {ours_ms:.0f} ms")
    print(f"  reference (y-websocket 1.5.4 server):  {reference_ms:.0f} ms")
    print(f"  ratio ours / reference: {ours_ms / reference_ms:.2f}")
    if args.latency:
        print(f"one edit from a client to another ({args.latency} runs, ms):")
        for name in ("ours", "reference"):
            print(f"  {name:>9}: p50 {percentile(latency[name], 50):.0f}, p95 {percentile(latency[name], 95):.0f}")
    if pages:
        print(
            f"one edit from a browser page to another, through the workbench ({len(pages)} runs, ms):"
            f" p50 {percentile(pages, 50):.0f}, p95 {percentile(pages, 95):.0f}"
        )


def page_latencies(sync_url: str, token: str, edits: int) -> list[int]:
    """Milliseconds from "Add node" in one Chromium page to the node in a second page (as bench/workbench_latency.py)."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from bench.workbench_latency import COUNT_NODES, remote_edits
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    url = sync_url.replace("ws://", "http://").removesuffix("sync")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{url}?project=digits&token={token}")
            page.wait_for_function(f"() => ({COUNT_NODES})() > 0", timeout=60_000)
            return [round(seconds * 1000) for seconds in remote_edits(browser, page, url, token, edits)]
        finally:
            browser.close()


def percentile(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
