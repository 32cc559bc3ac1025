"""Sharing on the pages: the peers panel, the share dialog and "Open a shared project", over a real home."""

from __future__ import annotations

import asyncio
import html
import json
from urllib.parse import parse_qs, urlsplit

import panel as pn
import pytest

from deepforge_panel.cli_peers import SERVER_FILE
from deepforge_panel.components.peers import PeersPanel, ShareDialog
from deepforge_panel.components.project_list import ProjectList
from deepforge_panel.crdt.peer_book import PeerBook
from deepforge_panel.crdt.peer_wire import PeerAddress
from deepforge_panel.hub import ProjectHub
from deepforge_panel.peering import Peering
from deepforge_panel.server import sync_server


@pytest.fixture
def peered(hub: ProjectHub) -> ProjectHub:
    """The hub with the server's peering, as ``deepforge-panel serve`` builds it (no links started)."""
    hub.peering = Peering(hub, sync_server(hub), 5006)
    return hub


def test_no_peering_no_panel_and_no_open_shared_control(hub: ProjectHub) -> None:
    panel = PeersPanel(hub=hub, project=hub.project("digits"))
    assert panel.rows() == [] and not panel._layout.visible
    page = ProjectList(hub=hub)
    assert not page.share_address.visible and page.clone_button.disabled
    asyncio.run(page.open_shared())
    assert not page.message.visible


def test_peers_listed_both_ways_escaped_without_their_tokens(peered: ProjectHub) -> None:
    project = peered.project("digits")
    panel = PeersPanel(hub=peered, project=project)
    assert panel._layout.visible and "no peers" in panel.pane.object

    book = PeerBook(peered.workspace.home.find("digits").path)
    try:
        book.add(PeerAddress.parse("http://10.0.0.9:5006/?project=digits&token=s3cret"))
        book.heard("<b>bob</b>:5007", "connected")
    finally:
        book.close()
    panel.refresh()
    shown = panel.pane.object
    assert "no peers" not in shown and shown.count("class='df-peer-row'") == 2
    assert "http://10.0.0.9:5006/?project=digits" in shown and "s3cret" not in shown
    assert "linked to" in shown and "not linked" in shown and "never" in shown
    assert "&lt;b&gt;bob&lt;/b&gt;:5007" in shown and "<b>bob" not in shown
    assert "linked from" in shown and "connected" in shown
    assert pn.panel(panel).get_root() is not None
    panel.dispose()


def test_share_dialog_gives_the_served_address_with_the_projects_token(peered: ProjectHub) -> None:
    dialog = ShareDialog(hub=peered, project=peered.project("digits"))
    dialog.refresh()
    assert "no workbench is running" in dialog.pane.object, "no server.json and no browser: no address"

    (peered.workspace.path / SERVER_FILE).write_text(json.dumps({"url": "http://wb.example:5006/"}))
    dialog.refresh()
    address = dialog.address
    assert address.startswith("http://wb.example:5006/?project=digits&token=")
    assert (
        f"value='{html.escape(address)}'" in dialog.pane.object
        and "deepforge-panel clone ADDRESS" in dialog.pane.object
    )
    token = parse_qs(urlsplit(address).query)["token"][0]
    shared = peered.workspace.home.shared_by(token)
    assert shared is not None and shared.name == "digits", "the token opens this project"


def test_open_shared_explains_bad_and_unreachable_addresses(peered: ProjectHub) -> None:
    page = ProjectList(hub=peered)
    assert page.share_address.visible and not page.clone_button.disabled
    asyncio.run(page.open_shared())
    assert page.message.visible and "Paste the share address" in page.message.object

    page.share_address.value = "not an address <script>"
    asyncio.run(page.open_shared())
    assert page.message.visible and "<script>" not in page.message.object
    assert not page.cloned.visible and page.clone_button.label == "Open shared project"

    page.share_address.value = "http://127.0.0.1:9/?project=digits&token=nope"
    asyncio.run(page.open_shared())
    assert page.message.visible and page.message.object
    assert [entry.name for entry in peered.projects()] == ["digits"]
    assert not page.clone_button.disabled


def test_share_dialog_makes_lists_and_revokes_read_only_links(peered: ProjectHub) -> None:
    from deepforge_panel.view_tokens import ViewTokens

    (peered.workspace.path / SERVER_FILE).write_text(json.dumps({"url": "http://wb.example:5006/"}))
    dialog = ShareDialog(hub=peered, project=peered.project("digits"))
    dialog.refresh()
    links = dialog.read_only
    assert "no read-only links" in links.rows.objects[0].object

    links.label.value = "<b>group</b> meeting"
    links.create_button.clicks += 1
    (made,) = links.links()
    assert made.label == "<b>group</b> meeting" and links.label.value == ""
    (row,) = links.rows.objects
    info, revoke = row.objects
    address = f"http://wb.example:5006/present?project={made.project}&token={made.token}"
    assert f"value='{html.escape(address)}'" in info.object
    assert "&lt;b&gt;group&lt;/b&gt; meeting" in info.object and "<b>group" not in info.object
    assert links.create("") is None and "needs a label" in links.message.object and links.message.visible

    revoke.clicks += 1
    assert links.links() == [] and "no read-only links" in links.rows.objects[0].object
    found = ViewTokens(peered.workspace.path).find(made.token)
    assert found is not None and found.revoked is not None
