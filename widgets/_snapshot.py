"""What every view shares: a live widget plus a static snapshot under one display id.

A view is displayed (``display(view)`` or as a cell's last value) as one
output holding three forms: the ipywidgets view (live in JupyterLab and
Notebook), ``text/html`` (static, inline-styled) and ``text/plain``
(terminals). The output carries a display id, so ``refresh_snapshot()``
rewrites it in place when the view's subject is finished. By default the
final form drops the widget view: nbconvert prefers a widget view over HTML
whenever the notebook stores widget state (nbclient does by default), and a
widget view needs JavaScript from a CDN, so only an output without it makes
the report readable offline. Pass ``keep_widget=True`` to keep the live
widget in the final output instead.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["SnapshotView", "WIDGET_VIEW_MIME"]

WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


class SnapshotView:
    """Base of the views: ``_repr_mimebundle_``, display id and snapshot refresh.

    Subclasses set ``self.widget`` (the root ipywidget) and implement
    ``to_html()`` and ``to_text()``.
    """

    widget: Any = None

    def __init__(self, *, keep_widget: bool = False) -> None:
        self.keep_widget = keep_widget
        """Keep the live widget in the output once the snapshot is final."""
        self.display_id = f"smolkernel-{uuid.uuid4().hex}"
        """The display id of this view's output(s)."""
        self.final = False
        """Whether the snapshot is final (the widget view is then dropped unless ``keep_widget``)."""
        self._displayed = False

    def to_html(self) -> str:
        """The static HTML snapshot."""
        raise NotImplementedError

    def to_text(self) -> str:
        """The plain-text snapshot."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The widget view (while live) plus the ``text/html`` and ``text/plain`` snapshot."""
        bundle: dict[str, Any] = {"text/plain": self.to_text(), "text/html": self.to_html()}
        widget = self.widget
        if widget is not None and getattr(widget, "comm", None) is not None and (self.keep_widget or not self.final):
            bundle[WIDGET_VIEW_MIME] = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
        return bundle

    def _ipython_display_(self) -> None:
        """Publish the bundle under this view's display id (so it can be refreshed)."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True, display_id=self.display_id)
        self._displayed = True

    def refresh_snapshot(self, *, final: bool | None = None) -> None:
        """Rewrite every output of this view with the current snapshot.

        Args:
            final: mark the snapshot final (drops the widget view unless ``keep_widget``).
        """
        if final is not None:
            self.final = final
        if not self._displayed:
            return
        from IPython.display import update_display

        update_display(self._repr_mimebundle_(), raw=True, display_id=self.display_id)

    def __str__(self) -> str:
        return self.to_text()
