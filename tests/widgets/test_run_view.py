"""RunView after real scripted runs: state, widgets, snapshot, threads, interruption."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from smolkernel import ToolCallingAgent
from smolkernel.agents import events as ev
from smolkernel.exceptions import RunInterrupted
from smolkernel.models import ScriptedModel
from smolkernel.widgets import RunView
from smolkernel.widgets._snapshot import WIDGET_VIEW_MIME

from smolkernel.tools import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


async def test_state_after_a_scripted_run(team_agent, comm_log):
    view = RunView(title="Team run")
    result = await team_agent.arun("add things", on_event=view.handle_event)
    run = view.state
    assert result.output == 8 and run.status == "done" and run.output == 8
    assert run.task == "add things" and run.model_id == "scripted-manager" and run.max_steps == 5
    assert [s.status for s in run.steps] == ["error", "done", "final"]
    first, second, third = run.steps
    assert first.text == "Let me **try** `add`." and "must be integer" in first.error
    assert first.code == "add(a=1, b='x')"
    assert second.observations == "helper: 4"
    (nested,) = second.children
    assert nested.agent_name == "helper" and nested.depth == 1 and nested.status == "done"
    assert [s.status for s in nested.steps] == ["done", "final"] and nested.output == 4
    assert (run.input_tokens, run.output_tokens) == (result.token_usage.input_tokens, result.token_usage.output_tokens)
    assert sum(s.input_tokens for s in run.steps) == run.input_tokens
    assert first.input_tokens > 0 and first.duration is not None


async def test_widgets_mirror_the_state_while_running(team_agent, comm_log):
    view = RunView(keep_widget=True)
    seen = {}

    def spy(event):
        view.handle_event(event)
        if isinstance(event, ev.StepFinished) and event.depth == 0 and event.step.step_number == 2:
            widgets = view._widgets
            seen["titles"] = tuple(widgets.steps.titles)
            seen["selected"] = widgets.steps.selected_index
            seen["nested"] = len(widgets.cards[1].nested.children)
            seen["classes"] = [tuple(c.box._dom_classes) for c in widgets.cards]

    await team_agent.arun("add things", on_event=spy)
    assert seen["titles"][0].startswith("✘ Step 1 · error")
    assert seen["titles"][1].startswith("✔ Step 2") and "1 managed run" in seen["titles"][1]
    assert seen["selected"] == 1  # the latest card is open
    assert seen["nested"] == 1
    assert "sk-step-error" in seen["classes"][0] and "sk-step-error" not in seen["classes"][1]
    widgets = view._widgets
    assert len(widgets.steps.children) == 3 and widgets.steps.selected_index == 2
    assert "sk-final" in widgets.footer.value and "8" in widgets.footer.value
    assert "sk-step-final" in widgets.cards[2].box._dom_classes
    assert "color:#c62828" in widgets.cards[0].body.value  # the error is marked red
    assert "done" in widgets.header.value and "step 3 of 5" in widgets.header.value


async def test_html_snapshot_shows_cards_nested_run_and_answer(team_agent, comm_log):
    view = RunView(title="Team run")
    await team_agent.arun("add things", on_event=view.handle_event)
    page = view.to_html()
    assert page.count("<details class='sk-step") == 5  # 3 steps + 2 in the nested run
    assert page.count("sk-step-error") == 1 and "must be integer" in page
    assert page.count("class='sk-run'") == 2 and "<code>helper</code>" in page
    assert page.count("class='sk-final'") == 2  # the answers of the run and of the nested run
    assert "Team run" in page and "add things" in page
    assert re.search(r"<span style=\"color: #[0-9A-Fa-f]{6}\">'x'</span>", page)  # pygments highlighted the call
    assert "<b>try</b>" in page and "<code>add</code>" in page  # model text as Markdown
    assert "<script" not in page
    # only the latest step of each run is open
    assert len(re.findall(r"<details[^>]*' open>", page)) == 2


async def test_text_snapshot_reads_in_a_terminal(team_agent, comm_log):
    view = RunView()
    await team_agent.arun("add things", on_event=view.handle_event)
    text = str(view)
    assert text.splitlines()[0].startswith("✔ add things")
    assert "✘ Step 1 · error" in text and "[helper] what is 2+2" in text
    assert text.rstrip().endswith("Final answer: 8")


async def test_mimebundle_drops_the_widget_once_the_run_ended(team_agent, comm_log):
    view = RunView()
    live = view._repr_mimebundle_()
    assert set(live) == {WIDGET_VIEW_MIME, "text/html", "text/plain"}
    model_id = live[WIDGET_VIEW_MIME]["model_id"]
    await team_agent.arun("add things", on_event=view.handle_event)
    final = view._repr_mimebundle_()
    assert set(final) == {"text/html", "text/plain"} and "sk-final" in final["text/html"]
    assert view.widget is None  # widgets closed, the snapshot stays
    assert ("comm_close", {}) in comm_log
    assert any(kind == "comm_msg" and "sk-step-final" in data["state"].get("_dom_classes", ()) for kind, data in comm_log)
    assert model_id


async def test_keep_widget_keeps_the_live_view(team_agent, comm_log):
    view = RunView(keep_widget=True)
    await team_agent.arun("add things", on_event=view.handle_event)
    assert WIDGET_VIEW_MIME in view._repr_mimebundle_() and view.final


def test_streamed_text_shows_before_the_reply_is_complete(comm_log):
    view = RunView()
    base = dict(run_id="r1", agent_name="agent")
    view.handle_event(ev.RunStarted(**base, task="t", max_steps=3))
    view.handle_event(ev.StepStarted(**base, step_number=1))
    for piece in ("Thinking ", "about ", "it"):
        view.handle_event(ev.ModelDelta(**base, step_number=1, text=piece))
    view._throttle.flush()
    assert view.state.steps[0].text == "Thinking about it" and view.state.steps[0].deltas == 3
    assert "Thinking about it" in view._widgets.cards[0].body.value
    assert view._widgets.steps.titles[0].startswith("… Step 1")
    view.finish()


def test_events_from_many_threads_are_all_applied(comm_log):
    """Managed agents and ``agent.run`` deliver events from worker threads."""
    view = RunView(interval=0.01)
    base = dict(run_id="r1", agent_name="agent")
    view.handle_event(ev.RunStarted(**base, task="t", max_steps=8))
    for n in range(1, 9):
        view.handle_event(ev.StepStarted(**base, step_number=n))

    def stream(n):
        for i in range(200):
            view.handle_event(ev.ModelDelta(**base, step_number=n, text="x"))

    threads = [threading.Thread(target=stream, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view.finish()
    assert [len(s.text) for s in view.state.steps] == [200] * 8
    assert view.state.status == "interrupted"


def test_sync_run_delivers_events_from_the_loop_thread(comm_log):
    model = ScriptedModel([{"tool_calls": [call("add", a=1, b=2)]}, {"tool_calls": [call("final_answer", answer=3)]}])
    view = RunView()
    result = view.run(ToolCallingAgent([add], model), "1+2")
    assert result.output == 3 and view.state.status == "done" and len(view.state.steps) == 2


async def test_an_interrupted_run_is_marked_and_the_error_shown(comm_log):
    agent = ToolCallingAgent([add], ScriptedModel(lambda m: {"tool_calls": [call("add", a=1, b=1)]}), max_steps=50)
    view = RunView()

    def on_event(event):
        view.handle_event(event)
        if isinstance(event, ev.StepFinished) and event.step.step_number == 2:
            agent.interrupt()

    with pytest.raises(RunInterrupted):
        await agent.arun("loop", on_event=on_event)
    view.finish("RunInterrupted: the run was interrupted")
    assert view.state.status == "interrupted" and view.final
    assert "interrupted" in view.to_html() and "sk-run-error" in view.to_html()


async def test_arun_helper_finishes_the_view_when_the_run_raises(comm_log):
    agent = ToolCallingAgent([add], ScriptedModel(lambda m: {"tool_calls": [call("add", a=1, b=1)]}), max_steps=50)

    async def stop_soon():
        await asyncio.sleep(0.05)
        agent.interrupt()

    view = RunView()
    stopper = asyncio.ensure_future(stop_soon())
    with pytest.raises(RunInterrupted):
        await view.arun(agent, "loop")
    await stopper
    assert view.state.status == "interrupted" and "RunInterrupted" in view.state.error


async def test_code_agent_steps_show_code_once_with_its_error(comm_log):
    from smolkernel import CodeAgent

    model = ScriptedModel([
        "Thought: compute\n```py\nx = 21 * 2\nprint(x)\n1/0\n```",
        "Thought: fix\n```py\nfinal_answer(x)\n```",
    ])
    agent = CodeAgent([], model)
    view = RunView()
    try:
        result = await agent.arun("compute", on_event=view.handle_event)
    finally:
        agent.close()
    first, second = view.state.steps
    assert result.output == 42 and (first.status, second.status) == ("error", "final")
    assert first.code == "x = 21 * 2\nprint(x)\n1/0" and "ZeroDivisionError" in first.error
    assert first.observations.strip() == "42"
    page = view.to_html()
    assert page.count("ZeroDivisionError") == 1 and page.count("1</span>/") + page.count("1/0") >= 1
    assert page.count("<div class=\"sk-code\">") == 2  # the code blocks are not repeated in the model text
    assert "Thought: compute" in page


@pytest.mark.parametrize("show_displays", [True, False])
def test_step_displays_are_in_the_cards_unless_shown_elsewhere(comm_log, show_displays):
    from smolkernel.memory import ActionStep

    figure = {"data": {"text/html": "<b>figure-here</b>", "text/plain": "<Figure>"}, "metadata": {}}
    view = RunView(show_displays=show_displays, keep_widget=True)
    view.handle_event(ev.RunStarted("r1", "agent", task="plot"))
    view.handle_event(ev.StepStarted("r1", "agent", step_number=1))
    view.handle_event(ev.StepFinished("r1", "agent", step=ActionStep(step_number=1, displays=[figure])))
    assert ("figure-here" in view.to_html()) is show_displays
    assert ("figure-here" in view.widget.children[1].children[0].children[0].value) is show_displays


def test_a_run_ended_by_a_configuration_error_is_failed_not_interrupted(comm_log):
    view = RunView()
    base = {"run_id": "r1", "agent_name": "agent", "depth": 0}
    view.handle_event(ev.RunStarted(**base, task="t", max_steps=3))
    view.handle_event(ev.StepStarted(**base, step_number=1))
    view.finish("MissingAPIKeyError: LiteLLMModel('openai/gpt-4o-mini') needs an API key")
    assert view.state.status == "failed"
    assert "interrupted" not in view.to_html() and "needs an API key" in view.state.error
