"""The utilities editor: modules and init code edited in the page, both ways with the document."""

from __future__ import annotations

import panel as pn

from deepforge_panel.components.session import Session
from deepforge_panel.components.utilities_editor import INIT_LABEL, UtilitiesEditor


def test_modules_and_init_code_are_edited_both_ways(digits_session: Session) -> None:
    project = digits_session.project
    editor = UtilitiesEditor(project=project)
    assert editor.picker.options == {INIT_LABEL: "init"} and editor.editor.value == ""
    assert not editor.delete_button.visible
    editor.editor.value = "import os\n"
    assert project.utilities.init_code == "import os\n"

    helpers = editor.add("helpers")
    assert helpers is not None and editor.utility == helpers and "utils.helpers" in editor.picker.options
    assert "from utils.helpers import" in editor.usage.object and editor.delete_button.visible
    editor.editor.value = "def twice(x):\n    return 2 * x\n"
    assert project.utilities.modules() == {"helpers": "def twice(x):\n    return 2 * x\n"}
    project.as_user("peer").utilities.set_code(helpers, "def twice(x):\n    return x + x\n")
    assert editor.editor.value == "def twice(x):\n    return x + x\n", "someone else's edit shows"

    assert editor.add("../escape") is None and editor.message.visible
    assert "Python identifier" in editor.message.object and editor.utility == helpers
    editor.delete()
    assert project.utilities.modules() == {} and editor.utility == "init" and editor.editor.value == "import os\n"
    card = editor.__panel__()
    assert editor.editor not in card.objects, "no code editor in the page until the card is opened"
    card.collapsed = False
    assert editor.editor in card.objects and pn.panel(editor).get_root() is not None
