"""Benchmark: widget messages per second sent to the frontend during a chatty run.

A run streams ``--tokens`` model deltas (one event each) over ``--seconds``,
plus a step end and a run end. Messages are counted where a kernel would send
them: every widget's comm is a recording comm (the ``comm`` package's
replaceable ``create_comm``). Two views are compared:

* ``uncoalesced``: ``RunView(interval=0)``, a redraw on every event (what a
  naive view does);
* ``coalesced``: ``RunView()`` as shipped (at most ~10 redraws a second,
  immediate redraws at step and run end).

Run: ``.venv/bin/python bench/bench_widgets.py [--tokens 500] [--seconds 1.0]``.
"""

from __future__ import annotations

import argparse
import json
import time

import comm
from comm import DummyComm

from smolkernel.agents import events as ev
from smolkernel.widgets import RunView


class CountingComm(DummyComm):
    """Counts comm messages and their bytes instead of sending them."""

    messages = 0
    bytes = 0

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        CountingComm.messages += 1
        CountingComm.bytes += len(json.dumps(data or {}, default=str))


def chatty_run(view: RunView, tokens: int, seconds: float) -> float:
    """Feed one run's events at a steady pace; return the elapsed seconds."""
    base = dict(run_id="bench", agent_name="agent")
    began = time.monotonic()
    view.handle_event(ev.RunStarted(**base, task="chatty", max_steps=1, model_id="bench"))
    view.handle_event(ev.StepStarted(**base, step_number=1))
    pause = seconds / tokens
    for index in range(tokens):
        view.handle_event(ev.ModelDelta(**base, step_number=1, text=f"tok{index} "))
        target = began + (index + 1) * pause
        while time.monotonic() < target:
            time.sleep(min(0.001, max(0.0, target - time.monotonic())))
    view.finish()
    return time.monotonic() - began


def measure(interval: float | None, tokens: int, seconds: float) -> dict[str, float]:
    """Messages and bytes sent for one chatty run with the given redraw interval."""
    CountingComm.messages = CountingComm.bytes = 0
    view = RunView() if interval is None else RunView(interval=interval)
    setup = CountingComm.messages
    CountingComm.messages = CountingComm.bytes = 0
    elapsed = chatty_run(view, tokens, seconds)
    return {
        "events": tokens + 3,
        "seconds": round(elapsed, 3),
        "redraws": view.redraws,
        "messages": CountingComm.messages,
        "messages_per_s": round(CountingComm.messages / elapsed, 1),
        "kbytes": round(CountingComm.bytes / 1024, 1),
        "setup_messages": setup,
    }


def main(argv: list[str] | None = None) -> None:
    """Print messages per second before (uncoalesced) and after (coalesced) coalescing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    comm.create_comm = lambda *a, **k: CountingComm(*a, **k)
    rows = {"uncoalesced": measure(0.0, args.tokens, args.seconds), "coalesced": measure(None, args.tokens, args.seconds)}
    print(f"chatty run: {args.tokens} ModelDelta events over {args.seconds} s")
    print(f"{'view':<12} {'events':>7} {'redraws':>8} {'messages':>9} {'msg/s':>8} {'KiB sent':>9}")
    for name, row in rows.items():
        print(f"{name:<12} {row['events']:>7} {row['redraws']:>8} {row['messages']:>9} {row['messages_per_s']:>8} {row['kbytes']:>9}")
    ratio = rows["uncoalesced"]["messages"] / max(rows["coalesced"]["messages"], 1)
    print(f"coalescing sends {ratio:.0f}x fewer messages")


if __name__ == "__main__":
    main()
