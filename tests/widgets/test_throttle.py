"""Coalescing: streamed tokens must not flood the frontend with widget messages."""

from __future__ import annotations

import time

from smolkernel import ToolCallingAgent
from smolkernel.agents import events as ev
from smolkernel.models import ScriptedModel
from smolkernel.widgets import RunView
from smolkernel.widgets._throttle import Throttle


def updates(comm_log):
    return sum(1 for kind, _ in comm_log if kind == "comm_msg")


def test_500_streamed_tokens_at_a_steady_pace_send_about_ten_updates_a_second(comm_log):
    view = RunView()
    base = dict(run_id="r", agent_name="agent")
    view.handle_event(ev.RunStarted(**base, task="chatty", max_steps=1))
    view.handle_event(ev.StepStarted(**base, step_number=1))
    before, began = updates(comm_log), time.monotonic()
    redraws_before = view.redraws
    for _ in range(500):  # ~500 events/s for ~1 s
        view.handle_event(ev.ModelDelta(**base, step_number=1, text="tok "))
        time.sleep(0.002)
    elapsed = time.monotonic() - began
    redraws = view.redraws - redraws_before
    sent = updates(comm_log) - before
    assert redraws <= 10 * elapsed + 2, (redraws, elapsed)
    assert sent <= 3 * (10 * elapsed + 2), (sent, elapsed)  # header, card body, titles per redraw at most
    assert sent < 100
    deadline = time.monotonic() + 3  # the trailing redraw shows the last token without another event
    while view._widgets.cards[0].body.value.count("tok") != 500 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert view._widgets.cards[0].body.value.count("tok") == 500
    view.finish()


async def test_a_chatty_scripted_run_is_coalesced(comm_log):
    reply = "x" * 500  # chunk_size=1: 500 ModelDelta events in one step
    model = ScriptedModel([{"content": reply, "tool_calls": [{"name": "final_answer", "arguments": {"answer": "done"}}]}], chunk_size=1)
    view = RunView()
    deltas = []

    def on_event(event):
        if isinstance(event, ev.ModelDelta):
            deltas.append(event)
        view.handle_event(event)

    result = await ToolCallingAgent([], model).arun("chat", on_event=on_event)
    assert result.output == "done" and len(deltas) == 500
    assert view.state.steps[0].text == reply
    assert view.redraws <= 6  # run start, first delta, maybe a trailing one, step end, run end
    assert updates(comm_log) < 60


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_throttle_runs_first_request_now_and_merges_the_rest():
    clock, ran = FakeClock(), []
    throttle = Throttle(lambda: ran.append(clock.now), interval=0.1, clock=clock)
    throttle.request()
    assert ran == [0.0]
    for _ in range(50):
        throttle.request()
    assert ran == [0.0] and throttle._timer is not None  # one trailing run scheduled
    throttle.flush()
    assert len(ran) == 2 and throttle._timer is None
    throttle.cancel()


def test_trailing_run_fires_after_the_interval():
    ran = []
    throttle = Throttle(lambda: ran.append(time.monotonic()), interval=0.05)
    throttle.request()
    throttle.request()
    throttle.request()
    time.sleep(0.2)
    assert len(ran) == 2 and ran[1] - ran[0] >= 0.04
