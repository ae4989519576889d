"""Reusable worker threads for ``LocalExecutor`` runs.

Every execution of the local executor runs in a thread of its own, so that a
timeout or an interrupt can stop it (an exception raised in that thread)
without stopping the event loop. Starting a thread costs more than running a
typical step's code, and the event loop waits while it starts; a batch of
agents makes thousands of executions. So finished threads wait here for the
next execution instead of ending, and end after ``IDLE_SECONDS`` without work.

A thread whose code will not stop (blocked in C past the stop grace period)
stays busy and is not lent again until its code returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["submit", "IDLE_SECONDS"]

IDLE_SECONDS = 30.0
"""How long an idle worker thread waits for work before it ends."""

Job = Callable[[], None]

_lock = threading.Lock()
_idle: list[queue.SimpleQueue[Job]] = []
"""The inboxes of the idle workers."""


def _worker(inbox: queue.SimpleQueue[Job]) -> None:
    job = inbox.get()
    while True:
        job()
        with _lock:
            _idle.append(inbox)
        try:
            job = inbox.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with _lock:
                if inbox in _idle:
                    _idle.remove(inbox)
                    return
            job = inbox.get()  # submit() took this worker just now: its job is on the way


def submit(job: Job) -> None:
    """Run ``job()`` in a worker thread: an idle one, or a new one when all are busy.

    ``job`` must not raise (the local executor's thread main catches everything).
    """
    with _lock:
        inbox = _idle.pop() if _idle else None
    if inbox is None:
        inbox = queue.SimpleQueue()
        threading.Thread(target=_worker, args=(inbox,), name="smolkernel-local-run", daemon=True).start()
    inbox.put(job)
