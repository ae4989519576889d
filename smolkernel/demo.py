"""``python -m smolkernel.demo``: a CodeAgent solves a small task offline and prints its steps.

The model is a ScriptedModel whose replies were written in advance, so the
demo needs no API key and no network; the code in those replies really runs
(in the local executor) and the tools really run in this process. Set
``SMOLKERNEL_MODEL`` (and its API key) to run the same task on a real model.
"""

from __future__ import annotations

import os
import sys

from smolkernel import CodeAgent, Tool, tool
from smolkernel.agents import events as ev
from smolkernel._text import counted
from smolkernel.models import ScriptedModel

TASK = "Which of our three warehouses holds the most units of stock, and how many units is that?"


class Inventory(Tool):
    """A stateful tool: an in-memory inventory, loaded once."""

    name = "inventory"
    description = "Return the stock of a warehouse as a dict mapping item name to units."
    inputs = {"warehouse": {"type": "string", "description": "warehouse code: 'north', 'south' or 'east'"}}
    output_type = "object"

    def setup(self) -> None:
        self.stock = {
            "north": {"bolts": 1200, "nuts": 800, "gears": 75},
            "south": {"bolts": 300, "nuts": 2500, "springs": 640},
            "east": {"gears": 910, "springs": 120},
        }

    def forward(self, warehouse: str) -> dict:
        if warehouse not in self.stock:
            raise KeyError(f"unknown warehouse {warehouse!r}; known: {sorted(self.stock)}")
        return dict(self.stock[warehouse])


@tool
def list_warehouses() -> list:
    """List the codes of all warehouses."""
    return ["north", "south", "east"]


SCRIPT = [
    "I will look at one warehouse first to learn the shape of the data.\n"
    "```python\nnorth = inventory(warehouse='North')\nprint(north)\n```",
    "The code is lower case. Let me sum every warehouse.\n"
    "```python\ntotals = {w: sum(inventory(warehouse=w).values()) for w in list_warehouses()}\nprint(totals)\n```",
    "```python\nbest = max(totals, key=totals.get)\nfinal_answer(f\"{best}: {totals[best]} units\")\n```",
]


def _print_event(event: ev.AgentEvent) -> None:
    if isinstance(event, ev.RunStarted):
        print(f"Task: {event.task}\nModel: {event.model_id}\n")
    elif isinstance(event, ev.StepFinished) and event.step is not None:
        step = event.step
        usage = step.token_usage
        print(f"── Step {step.step_number} ({step.duration * 1000:.0f} ms, {usage.input_tokens} in / {usage.output_tokens} out tokens)")
        if step.code:
            print("   code:\n" + "\n".join("     " + line for line in step.code.splitlines()))
        if step.observations:
            print("   observation: " + step.observations.strip().replace("\n", "\n                "))
        if step.error:
            print("   error (shown to the model): " + step.error.strip().replace("\n", "\n     "))
    elif isinstance(event, ev.RunFinished) and event.result is not None:
        result = event.result
        print(f"\nAnswer: {result.output}\nSuccess: {result.success}; {counted(len(result.action_steps), 'step')}; "
              f"{result.token_usage.input_tokens} in / {result.token_usage.output_tokens} out tokens; {result.duration:.2f} s")


def main() -> int:
    """Run the demo; return a process exit code."""
    model = os.environ.get("SMOLKERNEL_MODEL") or ScriptedModel(SCRIPT, model_id="scripted (offline demo)")
    agent = CodeAgent([Inventory(), list_warehouses], model, max_steps=6)
    try:
        for event in agent.stream(TASK):
            _print_event(event)
    finally:
        agent.close()
    return 0 if agent.last_run and agent.last_run.success else 1


if __name__ == "__main__":
    sys.exit(main())
