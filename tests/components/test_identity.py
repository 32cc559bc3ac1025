"""Who is who: a name and color per browser, asked once, remembered, used as the author."""

from __future__ import annotations

import json
from urllib.parse import quote

from deepforge_panel.components.identity import Identity, parse_user
from deepforge_panel.components.session import Session


def _cookie(name: str, color: str) -> str:
    return quote(json.dumps({"name": name, "color": color}))


def test_parse_user_takes_only_what_we_wrote() -> None:
    assert parse_user(_cookie("Ada", "#ff0000")) == ("Ada", "#ff0000")
    assert parse_user(None) is None and parse_user("") is None and parse_user("not json") is None
    assert parse_user(_cookie("", "#ff0000")) is None
    assert parse_user(_cookie("x" * 41, "#ff0000")) is None
    assert parse_user(_cookie("Ada", "red; background: url(x)")) is None, "a color goes into CSS: hex only"
    assert parse_user(quote(json.dumps(["Ada"]))) is None


def test_a_new_browser_is_asked_once_and_its_choice_signs_commits(digits_session: Session) -> None:
    identity = Identity(session=digits_session)
    assert identity.form.visible, "a browser that never chose is asked"
    assert digits_session.author.startswith("guest-")
    assert identity.choose("  ", "#00ff00") is False and identity.problem.visible
    assert identity.choose("Ada Lovelace", "#00ff00")
    assert (digits_session.author, digits_session.color) == ("Ada Lovelace", "#00ff00")
    assert (identity.cookie.user, identity.cookie.color) == ("Ada Lovelace", "#00ff00"), "remembered by the browser"
    assert not identity.form.visible and identity.badge.label == "● Ada Lovelace"
    digits_session.project.pipelines.create("by ada")
    commit_id = digits_session.commit("a pipeline by Ada")
    assert commit_id is not None
    assert next(c for c in digits_session.project.log() if c.id == commit_id).author == "Ada Lovelace"


def test_a_remembered_browser_is_not_asked(digits_session: Session) -> None:
    identity = Identity(session=digits_session, remembered=_cookie("Grace", "#123456"))
    assert not identity.form.visible
    assert (digits_session.author, digits_session.color) == ("Grace", "#123456")
    identity.badge.clicks += 1
    assert identity.form.visible, "the badge opens the form to change name or color"
