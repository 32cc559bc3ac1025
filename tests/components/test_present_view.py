"""The present view over real executions (local subprocesses): large, live, following a pipeline's next run,
and built of nothing that writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import panel as pn
import pytest

from deepforge_panel.components.execution_monitor import ExecutionMonitor
from deepforge_panel.components.present_view import PresentView
from deepforge_panel.components.session import Session
from deepforge_panel.project import Project
from tests.components.test_execution_monitor import EPOCHS, _hub, _line_source, _training_pipeline
from tests.conftest import async_wait_until


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    hub = _hub(tmp_path / "home")
    yield Session(hub=hub, project=hub.project("demo").as_user("tab-1"), author="ada")
    asyncio.run(hub.close())


def _read_only(session: Session) -> Project:
    live = session.project
    return Project(live.doc, live.store, name=live.name, readonly=True)


def _train_view(view: PresentView):
    return next(v for key, v in view.figure_views.items() if "/metric/" not in key)


def test_without_a_run_it_says_what_it_waits_for(session: Session) -> None:
    latest = PresentView(project=_read_only(session))
    assert "No run yet" in latest.header.object and not latest.figure_views
    named = PresentView(project=_read_only(session), which="<b>training</b>")
    assert "No run of &lt;b&gt;training&lt;/b&gt; yet" in named.header.object


def test_the_run_grows_live_and_the_next_run_of_the_pipeline_replaces_it(session: Session, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    _training_pipeline(session, gate=str(gate))
    following = PresentView(project=_read_only(session), which="training")
    latest = PresentView(project=_read_only(session))

    async def scenario() -> tuple[str, list[tuple[int, str]]]:
        first = session.run("training")
        assert first is not None
        seen = []
        for epoch in range(EPOCHS):
            (gate / str(epoch)).write_text("go")
            await async_wait_until(
                lambda epoch=epoch: (
                    following.execution_id == first
                    and any("/metric/" not in key for key in following.figure_views)
                    and len(_line_source(_train_view(following)).data["y"]) == epoch + 1
                ),
                timeout=30,
                message=f"epoch {epoch} drawn",
            )
            view = _train_view(following)
            seen.append((view.rebuilds, view.axes[0].figure.id))
            assert f"epoch {epoch + 1}/{EPOCHS}" in following.jobs.object
            assert "df-present-metric" in following.metrics.object and 'data-metric="loss"' in following.metrics.object
            assert not [key for key in following.figure_views if "/metric/" in key], "its figure, not a second chart"
        assert view.stretch and view.axes[0].figure.sizing_mode == "stretch_width"
        await session.hub.orchestrator("demo").wait(first)
        await async_wait_until(lambda: 'data-status="failed"' in following.header.object, timeout=5, message="ended")
        assert "bad value" in following.error.object and following.error.visible
        pinned = PresentView(project=_read_only(session), which=first)

        second = session.run("training")
        assert second is not None and second != first
        await async_wait_until(
            lambda: following.execution_id == second and latest.execution_id == second,
            timeout=30,
            message="the next run of the pipeline is followed",
        )
        assert pinned.execution_id == first, "an execution's id stays on that execution"
        for epoch in range(EPOCHS):
            (gate / str(epoch)).write_text("go")
        await session.hub.orchestrator("demo").wait(second)
        return first, seen

    _first, seen = asyncio.run(scenario())
    assert len(set(seen)) == 1 and seen[0][0] == 1, f"the figure grew in place: {seen}"
    for view in (following, latest):
        view.dispose()


def test_nothing_in_it_writes(session: Session) -> None:
    view = PresentView(project=_read_only(session))
    root = pn.panel(view)
    assert not [w for w in root.select(pn.widgets.Widget)], "the present view holds no widget"
    assert view.project.readonly
    assert root.get_root() is not None


def test_the_monitor_links_to_the_present_view_of_the_shown_run_and_of_its_pipeline(session: Session) -> None:
    _training_pipeline(session)
    execution_id = asyncio.run(session.hub.orchestrator("demo").run("training", author="ada")).id
    monitor = ExecutionMonitor(project=session.project, session=session)
    links = monitor.present.object
    assert f'href="present?project=demo&amp;execution={execution_id}"' in links
    assert 'href="present?project=demo&amp;execution=training"' in links
    assert links.count('target="_blank"') == 2
    monitor.dispose()
