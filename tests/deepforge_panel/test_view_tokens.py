"""Read-only links: kept in a file only the home's owner reads, listed per project, revoked by id, and the
``deepforge-panel share --view`` commands."""

from __future__ import annotations

import functools
import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from deepforge_panel.cli_peers import SERVER_FILE
from deepforge_panel.crdt import Home
from deepforge_panel.errors import NotFound, ProjectError
from deepforge_panel.view_tokens import VIEW_TOKENS_FILE, ViewTokens, present_link
from tests.deepforge_panel.helpers import cli


def test_links_are_made_per_project_listed_and_revoked(tmp_path: Path) -> None:
    tokens = ViewTokens(tmp_path)
    talk = tokens.create("p-1", "  group\tmeeting ")
    other = tokens.create("p-2", "lab")
    assert talk.label == "group meeting" and len(talk.token) >= 40 and talk.id.startswith("v-")
    assert stat.S_IMODE((tmp_path / VIEW_TOKENS_FILE).stat().st_mode) == 0o600
    assert [t.id for t in tokens.links("p-1")] == [talk.id] and [t.id for t in tokens.links("p-2")] == [other.id]
    assert tokens.find(talk.token) == talk and tokens.find("x" * 43) is None

    with pytest.raises(NotFound, match="no read-only link"):
        tokens.revoke("p-2", talk.id)  # another project's link
    revoked = tokens.revoke("p-1", talk.id)
    assert revoked.revoked is not None and tokens.links("p-1") == []
    found = ViewTokens(tmp_path).find(talk.token)
    assert found is not None and found.revoked is not None, "a revoked link is known as revoked"
    with pytest.raises(NotFound, match=rf"{other.id} \(lab\)"):
        tokens.revoke("p-2", "v-nope")
    assert stat.S_IMODE((tmp_path / VIEW_TOKENS_FILE).stat().st_mode) == 0o600


@pytest.mark.parametrize("label", ["", "   ", "x" * 81, "bell\x07"])
def test_a_label_is_one_short_printable_line(tmp_path: Path, label: str) -> None:
    with pytest.raises(ProjectError, match="label"):
        ViewTokens(tmp_path).create("p-1", label)
    assert not (tmp_path / VIEW_TOKENS_FILE).exists()


def test_the_link_is_the_present_page_with_the_token(tmp_path: Path) -> None:
    link = present_link("http://wb.example:5006/", "p-1", "t0k&n", execution="train")
    parts = urlsplit(link)
    assert parts.path == "/present" and parse_qs(parts.query) == {
        "project": ["p-1"],
        "execution": ["train"],
        "token": ["t0k&n"],
    }


_cli = functools.partial(cli, timeout=120)


def test_share_view_makes_lists_and_revokes_links(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Home(home).create("digits").close()
    refused = _cli("share", "digits", "--view", "--label", "talk", home=home)
    assert refused.returncode != 0 and "no workbench is running" in refused.stderr
    (home / SERVER_FILE).write_text(json.dumps({"url": "http://wb.example:5006/"}))

    made = _cli("share", "digits", "--view", "--label", "talk", home=home)
    assert made.returncode == 0, made.stderr
    link = made.stdout.strip()
    assert link.startswith("http://wb.example:5006/present?project=p")
    token = parse_qs(urlsplit(link).query)["token"][0]
    (entry,) = [t for t in ViewTokens(home).links(parse_qs(urlsplit(link).query)["project"][0])]
    assert entry.token == token and entry.label == "talk"

    listed = _cli("share", "digits", "--view", "--list", home=home)
    assert listed.returncode == 0 and f"{entry.id}\ttalk\tmade " in listed.stdout and link in listed.stdout

    needs_id = _cli("share", "digits", "--view", "--revoke", home=home)
    assert needs_id.returncode != 0 and "needs the link's id" in needs_id.stderr
    wrong = _cli("share", "digits", "--revoke", entry.id, home=home)
    assert wrong.returncode != 0 and "--view --revoke" in wrong.stderr
    revoked = _cli("share", "digits", "--view", "--revoke", entry.id, home=home)
    assert revoked.returncode == 0 and f"revoked {entry.id} (talk)" in revoked.stdout
    assert "has no read-only links" in _cli("share", "digits", "--view", "--list", home=home).stdout
    found = ViewTokens(home).find(token)
    assert found is not None and found.revoked is not None
    assert "add --view" in _cli("share", "digits", "--list", home=home).stderr
