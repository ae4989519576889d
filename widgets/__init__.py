"""Live views of agent runs, memory and token usage (ipywidgets 8), with static snapshots.

``RunView`` (one run, driven by agent events), ``MemoryView`` (the rolling
window across runs), ``UsageView`` (tokens per step and run, with a bar
chart) and ``BatchView`` (progress of many runs). Each displays as a live
widget plus a ``text/html`` and ``text/plain`` snapshot under a display id,
so reports and terminals read them too. See each module for its API.
"""

from ._state import RunModel, RunState, StepState
from .batch_view import BatchView
from .memory_view import MemoryView
from .run_view import RunView
from .usage_view import UsageView

__all__ = ["RunView", "MemoryView", "UsageView", "BatchView", "RunModel", "RunState", "StepState"]
