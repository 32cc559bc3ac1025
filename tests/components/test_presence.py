"""Presence: who else is in the project, and their selections marked on the graphs in their colors."""

from __future__ import annotations

from deepforge_panel.components.pipeline_editor import PipelineEditor
from deepforge_panel.components.presence import PresenceList
from deepforge_panel.components.session import Session
from deepforge_panel.hub import ProjectHub
from deepforge_panel.presence import Member, Presence, awareness_state


def _tab(hub: ProjectHub, key: str, name: str, color: str) -> Session:
    presence = hub.presence("digits")
    session = Session(hub=hub, project=hub.project("digits").as_user(key), key=key, presence=presence)
    session.param.update(author=name, color=color)
    presence.join(key, name, color)
    session.param.watch(lambda event: presence.select(key, event.new), "selection")
    return session


def test_others_and_their_selected_node_show_in_their_color(hub: ProjectHub) -> None:
    ada = _tab(hub, "session:a", "Ada", "#ff0000")
    grace = _tab(hub, "session:g", "Grace <i>", "#00aa00")
    editor, people = PipelineEditor(project=ada.project, session=ada), PresenceList(session=ada)
    assert "Grace &lt;i&gt;" in people.pane.object and "Ada" not in people.pane.object, "others, escaped; not me"

    grace_editor = PipelineEditor(project=grace.project, session=grace)
    train = ada.project.pipelines.find("train").node("train")
    grace_editor._show_selected(train.id)  # Grace clicks the train node
    assert grace.selection == ("node", train.id)
    node = next(n for n in editor.flow.nodes if n["id"] == train.id)
    assert node["style"] == {"outline": "3px solid #00aa00", "outlineOffset": "3px"}
    assert "● Grace &lt;i&gt;" in node["view"].object
    others = [n for n in editor.flow.nodes if n["id"] != train.id]
    assert all(not n["style"] for n in others)
    mine = next(n for n in grace_editor.flow.nodes if n["id"] == train.id)
    assert not mine["style"], "my own selection is not marked as someone else's"

    hub.presence("digits").leave("session:g")
    assert "only you here" in people.pane.object
    assert not next(n for n in editor.flow.nodes if n["id"] == train.id)["style"]


def test_yjs_clients_join_through_their_awareness_state() -> None:
    presence = Presence()
    heard: list[int] = []
    presence.subscribe(lambda: heard.append(len(presence.members())))
    presence.join("session:a", "Ada", "#ff0000")
    presence.set_remote(
        {
            7: {"user": {"name": "node-bot", "color": "#0000ff"}, "selection": {"kind": "layer", "id": "l1"}},
            8: {"cursor": 3},  # no user: nothing to show
            9: {"user": {"name": "x", "color": "javascript:alert(1)"}},  # a color that is not #rrggbb is not used
        }
    )
    assert [m.name for m in presence.members()] == ["Ada", "node-bot", "x"]
    bot = next(m for m in presence.members() if m.name == "node-bot")
    assert bot == Member("yjs:7", "node-bot", "#0000ff", ("layer", "l1"))
    assert next(m for m in presence.members() if m.name == "x").color == "#888888"
    presence.set_remote({})
    assert [m.name for m in presence.members()] == ["Ada"] and heard[-1] == 1
    assert awareness_state(Member("session:a", "Ada", "#ff0000", ("node", "n1"))) == {
        "user": {"name": "Ada", "color": "#ff0000"},
        "selection": {"kind": "node", "id": "n1"},
    }
