"""The executions tab while a run streams: Cancel only while it runs, and no empty alert blinking above the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT, open_project, run_train

pytestmark = pytest.mark.browser

WATCH_ERROR_BOX = """() => {
  const boxes = () => {
    const found = []
    const walk = (root) => {
      root.querySelectorAll('.df-job-error').forEach(e => found.push(e))
      root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot) })
    }
    walk(document)
    return found
  }
  window.errorBoxFrames = 0
  const sample = () => {
    if (boxes().some(e => e.getBoundingClientRect().height > 0)) window.errorBoxFrames += 1
    requestAnimationFrame(sample)
  }
  sample()
}"""


def test_cancel_shows_only_while_running_and_no_box_blinks(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    page = open_project(new_tab(), server, project)
    run_train(page, epochs=3)
    cancel = page.get_by_role("button", name="Cancel", exact=True)
    page.locator("g.df-job[data-name='train'][data-status='running']").wait_for(timeout=60_000)
    expect(cancel).to_be_visible()
    page.locator("g.df-job[data-name='train']").click()
    page.evaluate(WATCH_ERROR_BOX)
    page.locator("g.df-job[data-name='train'][data-status='succeeded']").wait_for(timeout=120_000)
    page.locator("g.df-job[data-name='score'][data-status='succeeded']").wait_for(timeout=120_000)
    page.locator("g.df-job[data-name='confusion'][data-status='succeeded']").wait_for(timeout=TIMEOUT)
    expect(cancel).to_be_hidden(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "run-ended.png")
    assert page.evaluate("window.errorBoxFrames") == 0, "an empty error box showed above the console"
