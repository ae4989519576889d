"""Running an agent from a magic: blocking, interruptible, with events handled in the main thread.

The run goes on a worker thread (``agent.run`` itself runs on smolkernel's
private event-loop thread), while the shell's main thread waits in short
slices. The waiting thread delivers the run's events to the view, so views
print and display from the thread that owns the cell's output, and a
``KeyboardInterrupt`` (Ctrl-C in a terminal, the interrupt button in
Jupyter) lands where it can be handled: the run is asked to stop with
``agent.interrupt()``, repeatedly, until it ends or the grace period is over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from smolkernel._async import run_sync

if TYPE_CHECKING:
    from smolkernel.agents.base import MultiStepAgent
    from smolkernel.agents.events import AgentEvent
    from smolkernel.agents.result import RunResult

__all__ = ["RunOutcome", "run_interruptibly"]

POLL_SECONDS = 0.05
"""How often the waiting thread wakes to deliver events (and notice Ctrl-C)."""
STOP_GRACE_SECONDS = 1.8
"""How long an interrupted run has to end before the magic gives up waiting."""
_REPEAT_INTERRUPT_SECONDS = 0.2


@dataclass
class RunOutcome:
    """How a run ended, as seen from the shell."""

    result: RunResult | None = None
    """The run's result (None when it was interrupted or raised)."""
    error: BaseException | None = None
    """What the run raised, if anything (``RunInterrupted`` after Ctrl-C)."""
    interrupted: bool = False
    """True when the user interrupted the run."""
    stopped: bool = True
    """False when an interrupted run was still going at the end of the grace period."""
    stop_seconds: float = 0.0
    """Seconds from the interrupt to the end of the run (or of the grace period)."""


def run_interruptibly(
    agent: MultiStepAgent,
    task: str,
    *,
    variables: Mapping[str, Any] | None,
    on_event: Callable[[AgentEvent], None],
) -> RunOutcome:
    """Run ``task`` with ``agent``, feeding ``on_event`` from this thread; stop on Ctrl-C.

    Returns:
        A RunOutcome; exceptions of the run are returned in it, not raised.
    """
    events: queue.SimpleQueue[AgentEvent] = queue.SimpleQueue()
    outcome = RunOutcome()
    # An Event, not Thread.join: a KeyboardInterrupt inside join() can leave the
    # thread marked as finished while it still runs (CPython gh-90882).
    done = threading.Event()

    def work() -> None:
        try:
            outcome.result = run_sync(agent.arun(task, variables=variables, on_event=events.put))
        except BaseException as exc:  # handed to the shell's thread below
            outcome.error = exc
        finally:
            done.set()

    threading.Thread(target=work, name="smolkernel-magic-run", daemon=True).start()
    try:
        while not done.wait(POLL_SECONDS):
            _deliver(events, on_event)
    except KeyboardInterrupt:
        outcome.interrupted = True
        _stop(agent, done, events, on_event, outcome)
    _deliver(events, on_event)
    return outcome


def _stop(
    agent: MultiStepAgent,
    done: threading.Event,
    events: queue.SimpleQueue[AgentEvent],
    on_event: Callable[[AgentEvent], None],
    outcome: RunOutcome,
) -> None:
    """Ask the run to stop until it does or the grace period ends (a second Ctrl-C is absorbed)."""
    began = time.monotonic()
    deadline = began + STOP_GRACE_SECONDS
    next_request = began
    while not done.is_set() and time.monotonic() < deadline:
        try:
            if time.monotonic() >= next_request:
                # Repeated: the first request may land before the run's task exists.
                agent.interrupt()
                next_request = time.monotonic() + _REPEAT_INTERRUPT_SECONDS
            done.wait(POLL_SECONDS)
            _deliver(events, on_event)
        except KeyboardInterrupt:
            continue
    outcome.stopped = done.is_set()
    outcome.stop_seconds = time.monotonic() - began


_reported_view_errors: set[tuple[str, str]] = set()


def _deliver(events: queue.SimpleQueue[AgentEvent], on_event: Callable[[AgentEvent], None]) -> None:
    """Hand every queued event to ``on_event``; a failing view must not break the run."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        try:
            on_event(event)
        except Exception:  # a broken view must not stop the run; say so once per event type
            key = (type(on_event).__qualname__, type(event).__name__)
            if key not in _reported_view_errors:
                _reported_view_errors.add(key)
                logging.getLogger("smolkernel.magics").warning("the run view failed on %s", type(event).__name__, exc_info=True)
