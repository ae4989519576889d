"""MemoryView, UsageView and BatchView on real runs."""

from __future__ import annotations

import asyncio
import threading

from smolkernel import ToolCallingAgent
from smolkernel.models import ScriptedModel
from smolkernel.widgets import BatchView, MemoryView, UsageView
from smolkernel.widgets._snapshot import WIDGET_VIEW_MIME


def answer(value):
    return {"tool_calls": [{"name": "final_answer", "arguments": {"answer": value}}]}


def run_tasks(agent, *tasks):
    return [agent.run(task) for task in tasks]


def test_memory_view_shows_slots_and_what_drops_next(comm_log):
    agent = ToolCallingAgent([], ScriptedModel([answer(i) for i in range(4)]), memory_size=3)
    view = MemoryView(agent)
    assert [slot is None for slot in view.slots()] == [True, True, True]
    run_tasks(agent, "task zero", "task one", "task two", "task three")
    view.refresh()
    assert [slot.task for slot in view.slots()] == ["task one", "task two", "task three"]
    page = view.to_html()
    assert page.count("class='sk-slot'") == 3 and page.count("sk-drops-next") == 1
    assert page.index("sk-drops-next") < page.index("task two")  # the oldest slot drops next
    assert "4 runs · 4 steps" in page  # cumulative figures include the rolled-off run
    assert "task one" in view.to_text() and "<- drops next" in view.to_text()
    assert view.html.value == page


def test_memory_view_is_static_unless_live(comm_log):
    agent = ToolCallingAgent([], ScriptedModel([answer(1)]))
    assert WIDGET_VIEW_MIME not in MemoryView(agent.memory)._repr_mimebundle_()
    live = MemoryView(agent, live=True)
    assert WIDGET_VIEW_MIME in live._repr_mimebundle_()
    asyncio.run(agent.arun("first", on_event=live.handle_event))
    assert "first" in live.html.value


def test_usage_view_rows_totals_and_bars(comm_log):
    model = ScriptedModel([
        {"tool_calls": [{"name": "nothing", "arguments": {}}]},
        answer("ok"),
    ])
    agent = ToolCallingAgent([], model)
    result = agent.run("use tokens")
    view = UsageView(result)
    rows = view.rows()
    assert [r.label for r in rows] == ["step 1", "step 2"]
    assert sum(r.input_tokens for r in rows) == result.token_usage.input_tokens
    total = view.totals()
    assert (total.input_tokens, total.output_tokens) == (result.token_usage.input_tokens, result.token_usage.output_tokens)
    page = view.to_html()
    assert page.count("class='sk-usage-row'") == 2 and page.count("class='sk-bars'") == 2
    assert f"{total.input_tokens:,} in" in page and "total:" in view.to_text()
    memory_view = UsageView(agent.memory)
    assert [r.label for r in memory_view.rows()] == ["run 1 · step 1", "run 1 · step 2"]


def test_usage_view_includes_managed_runs(comm_log):
    helper = ToolCallingAgent([], ScriptedModel([answer(4)]), name="helper", description="answers")
    boss = ToolCallingAgent([], ScriptedModel([{"tool_calls": [{"name": "helper", "arguments": {"task": "x"}}]}, answer(8)]), managed_agents=[helper])
    result = boss.run("delegate")
    labels = [r.label for r in UsageView(result).rows()]
    assert labels == ["step 1", "  ↳ helper · step 1", "step 2"]


def test_batch_view_counts_from_threads_and_finishes(comm_log):
    batch = BatchView(total=40, title="Eval")
    threads = [threading.Thread(target=batch.record, args=(i % 4 != 0,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (batch.done, batch.failed, batch.finished) == (30, 10, 40)
    assert batch.final and batch.ended is not None
    assert batch.bar.value == 40 and batch.bar.bar_style == "danger"
    assert "40/40 (30 done, 10 failed)" in batch.to_text()
    assert "sk-batch" in batch.to_html() and WIDGET_VIEW_MIME not in batch._repr_mimebundle_()
    messages = sum(1 for kind, _ in comm_log if kind == "comm_msg")
    assert messages < 40  # coalesced


def test_batch_view_estimates_time_left(comm_log):
    batch = BatchView(total=10)
    assert batch.time_left is None
    batch.update(done=4, failed=1)
    assert batch.throughput > 0 and batch.time_left is not None and batch.time_left > 0
    batch.finish()


def test_memory_view_keeps_a_table_answer_a_table_and_counts_in_the_singular(comm_log):
    import pandas as pd

    frame = pd.DataFrame({"region": [f"r{i}" for i in range(8)], "revenue": range(8)})
    model = ScriptedModel(lambda messages: {"tool_calls": [{"name": "final_answer", "arguments": {"answer": "x"}}]})
    agent = ToolCallingAgent([], model, memory_size=2)
    agent.run("one task")
    agent.memory.interactions[-1].answer = frame  # a DataFrame answer, as a CodeAgent returns it
    page = MemoryView(agent).to_html()
    assert "<table" in page.split("<td>", 3)[-1] and "<td>r4</td>" in page and "r5" not in page
    assert "3 more rows" in page
    assert "1 run · 1 step" in page and "1 runs" not in page and "1 steps" not in page


def test_usage_view_shows_a_cost_column_only_when_a_price_is_known(comm_log):
    result = ToolCallingAgent([], ScriptedModel([answer(1)])).run("one step")
    assert "<th>cost</th>" not in UsageView(result).to_html()  # a scripted model has no price
    result.action_steps[0].token_usage.cost = 0.0021
    page = UsageView(result).to_html()
    assert "<th>cost</th>" in page and "$0.0021" in page
