"""A matplotlib backend that streams figures to the workbench as feedback events.

Selected in a job's environment with ``MPLBACKEND=module://deepforge.mpl_backend``,
so unchanged pyplot code (``plt.show()``, ``plt.draw()``, ``plt.pause()``,
``fig.canvas.draw()``, ``fig.savefig()``) sends each figure as a ``figure``
event; the same code run elsewhere uses matplotlib's usual backend. Rendering
is Agg's, so saving PNGs keeps working. A figure is sent only when its data
changed since it was last sent, so drawing every batch does not flood the events channel.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import warnings
import weakref
from typing import TYPE_CHECKING, Any

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import feedback
from .figures import figure_to_data

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_unmanaged_ids = itertools.count(1)
_sent_digests: weakref.WeakKeyDictionary[Figure, str] = weakref.WeakKeyDictionary()


def publish(figure: Figure, figure_id: str) -> bool:
    """Emit *figure* if the job has an events channel and its data changed since last sent; True when emitted.

    A figure that cannot be described only warns: streaming must never break a
    job whose plotting code works with any other backend.
    """
    if not feedback.enabled():
        return False
    try:
        data = figure_to_data(figure)
    except Exception as exc:  # noqa: BLE001 - any describer bug must not kill the job
        warnings.warn(f"deepforge could not stream figure {figure_id}: {exc!r}", stacklevel=2)
        return False
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    if _sent_digests.get(figure) == digest:
        return False
    feedback.emit({"type": "figure", "id": figure_id, "figure": data})
    _sent_digests[figure] = digest
    return True


class FigureManagerDeepforge(FigureManagerBase):
    """Shows a figure by sending it; there is no window and nothing blocks."""

    def show(self) -> None:
        self.canvas.draw_idle()

    @classmethod
    def pyplot_show(cls, *, block: bool | None = None) -> None:
        """Send every open figure and return at once, whatever *block* says."""
        for manager in Gcf.get_all_fig_managers():
            manager.show()


class FigureCanvasDeepforge(FigureCanvasAgg):
    """An Agg canvas that publishes its figure after every draw and save."""

    manager_class = FigureManagerDeepforge

    def __init__(self, figure: Figure | None = None) -> None:
        super().__init__(figure)
        self._unmanaged_id = f"canvas-{next(_unmanaged_ids)}"

    @property
    def figure_id(self) -> str:
        """The pyplot figure number as text, or a per-canvas id outside pyplot."""
        manager = self.manager
        return str(manager.num) if manager is not None else self._unmanaged_id

    def draw(self) -> None:
        super().draw()
        self.publish()

    def print_figure(self, *args: Any, **kwargs: Any) -> Any:
        """Save as usual, then publish (after the save restored dpi and colours)."""
        result = super().print_figure(*args, **kwargs)
        self.publish()
        return result

    def publish(self) -> bool:
        """Emit this canvas's figure unless unchanged; True when emitted."""
        return publish(self.figure, self.figure_id)


def flush_all() -> None:
    """Send every open pyplot figure whose current state was not sent yet.

    Called when an operation returns, so figures never shown still arrive. Figures
    on another canvas (code that forced ``matplotlib.use("Agg")``) are sent too.
    """
    if not feedback.enabled():
        return
    for manager in Gcf.get_all_fig_managers():
        canvas = manager.canvas
        if isinstance(canvas, FigureCanvasDeepforge):
            canvas.draw()
        else:
            publish(canvas.figure, str(manager.num))


FigureCanvas = FigureCanvasDeepforge
FigureManager = FigureManagerDeepforge
show = FigureManagerDeepforge.pyplot_show
