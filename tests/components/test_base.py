"""ProjectComponent: a projection refreshed from document changes, coalesced in time where asked."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from typing import Any

from deepforge_panel.components.base import ProjectComponent
from deepforge_panel.hub import ProjectHub


class Recorder(ProjectComponent):
    """Records how many pipelines each refresh saw, and when."""

    roots = ("pipelines",)

    def __init__(self, **params: Any) -> None:
        self.seen: list[tuple[float, int]] = []
        super().__init__(**params)

    def refresh(self) -> None:
        self.seen.append((time.monotonic(), len(self.project.pipelines.all())))


def _burst(component: Recorder, edits: int, spacing: float) -> None:
    async def main() -> None:
        for i in range(edits):
            component.project.pipelines.create(f"p{i}")
            await asyncio.sleep(spacing)
        deadline = time.monotonic() + 5
        while component.seen[-1][1] != edits + start and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    start = len(component.project.pipelines.all())
    asyncio.run(main())


def test_edits_in_one_tick_refresh_once(hub: ProjectHub) -> None:
    component = Recorder(project=hub.project("digits"))
    before = len(component.project.pipelines.all())

    async def main() -> None:
        for i in range(5):
            component.project.pipelines.create(f"q{i}")
        await asyncio.sleep(0.05)

    asyncio.run(main())
    assert [count for _, count in component.seen] == [before + 5]


def test_min_interval_spaces_refreshes_and_keeps_the_last_change(hub: ProjectHub) -> None:
    component = Recorder(project=hub.project("digits"))
    component.min_interval = 0.2
    _burst(component, edits=30, spacing=0.02)  # 0.6 s of edits, one every 20 ms
    times = [t for t, _ in component.seen]
    assert len(times) <= 6, f"{len(times)} refreshes for 30 edits over 0.6 s"
    assert all(b - a >= 0.19 for a, b in pairwise(times))
    assert component.seen[-1][1] == len(component.project.pipelines.all())


def test_without_min_interval_every_tick_refreshes(hub: ProjectHub) -> None:
    component = Recorder(project=hub.project("digits"))
    _burst(component, edits=10, spacing=0.02)
    assert len(component.seen) == 10
