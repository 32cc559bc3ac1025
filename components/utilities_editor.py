"""The project's utility modules and init code, edited beside everything else (DeepForge's MyUtilities)."""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from deepforge_panel.components.base import ProjectComponent
from deepforge_panel.components.markup import md_text
from deepforge_panel.utilities import INIT, UtilityError

INIT_LABEL = "init code (runs in every job first)"


class UtilitiesEditor(ProjectComponent):
    """Pick a utility module (or the init code), edit it, add and delete modules."""

    utility = param.String(default=INIT, doc="Id of the utility shown (the init code's id: 'init').")
    roots = ("utilities",)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.picker = pn.widgets.Select(label="Utility", options={INIT_LABEL: INIT}, width=260)
        self.picker.param.watch(lambda e: setattr(self, "utility", e.new), "value")
        self.new_name = pn.widgets.TextInput(label="New module", placeholder="module name, e.g. helpers", width=200)
        self.add_button = pn.widgets.Button(label="Add module", color="default", align="end")
        self.add_button.on_click(lambda _e: self.add(self.new_name.value))
        self.new_name.param.watch(lambda _e: self.add(self.new_name.value), "enter_pressed")
        self.delete_button = pn.widgets.Button(label="Delete module", color="danger", align="end")
        self.delete_button.on_click(lambda _e: self.delete())
        self.usage = pn.pane.Markdown("", margin=(0, 10))
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, margin=(5, 10))
        self.editor = pn.widgets.CodeEditor(language="python", height=260, sizing_mode="stretch_width")
        self.editor.param.watch(self._edited, "value")
        self._card: pn.Card | None = None
        self.refresh()

    @param.depends("utility", watch=True)
    def refresh(self) -> None:
        utilities = self.project.utilities
        options = {INIT_LABEL: INIT, **{f"utils.{u.name}": u.id for u in utilities.all() if u.kind == "module"}}
        if self.picker.options != options:
            self.picker.options = options
        if self.utility not in options.values():
            self.utility = INIT  # refreshes again
            return
        self.picker.value = self.utility
        module = self.utility != INIT
        self.delete_button.visible = module
        code = utilities.get(self.utility).code if module else utilities.init_code
        name = next(label for label, value in options.items() if value == self.utility)
        self.usage.object = (
            f"Every job imports it: `from {md_text(name)} import ...`"
            if module
            else "Runs in every job before its operation, e.g. to register serializers "
            "(`deepforge.serialization.register(cls, dump, load)`)."
        )
        if self.editor.value != code:
            self.editor.value = code

    def _edited(self, event: param.parameterized.Event) -> None:
        utilities = self.project.utilities
        if self.utility == INIT:
            if event.new != utilities.init_code:
                utilities.set_init_code(event.new or "")
        elif self.utility in utilities.ids() and event.new != utilities.get(self.utility).code:
            utilities.set_code(self.utility, event.new or "")

    def add(self, name: str) -> str | None:
        try:
            utility_id = self.project.utilities.add(name.strip())
        except UtilityError as exc:
            self.message.param.update(object=md_text(str(exc)), visible=True)
            return None
        self.message.visible = False
        self.new_name.value = ""
        self.utility = utility_id
        return utility_id

    def delete(self) -> None:
        if self.utility != INIT and self.utility in self.project.utilities.ids():
            self.project.utilities.remove(self.utility)
            self.utility = INIT

    def __panel__(self) -> pn.viewable.Viewable:
        if self._card is None:
            self._card = pn.Card(
                pn.Row(self.picker, self.new_name, self.add_button, self.delete_button),
                self.usage,
                self.message,
                title="Utility modules and init code",
                collapsed=True,
                sizing_mode="stretch_width",
            )
            self._card.param.watch(self._opened, "collapsed")
        return self._card

    def _opened(self, event: param.parameterized.Event) -> None:
        """The code editor joins the page when the card is first opened (a page never opening it builds none)."""
        if not event.new and self._card is not None and self.editor not in self._card.objects:
            self._card.append(self.editor)
