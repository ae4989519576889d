"""A CodeAgent on the kernel executor drives a stateful host tool across steps and runs."""

from __future__ import annotations

import sqlite3

from smolkernel.agents import CodeAgent
from smolkernel.executors.kernel import KernelExecutor
from smolkernel.testing import ScriptedModel
from smolkernel.tools import Tool


class Database(Tool):
    """An sqlite connection that lives in the host; generated code only sees the tool."""

    name = "sql"
    description = "Run one SQL statement on the host database and return the rows."
    inputs = {"query": {"type": "string", "description": "the SQL statement"}}
    output_type = "array"

    def setup(self) -> None:
        self.connection = sqlite3.connect(":memory:")
        self.statements = 0

    def forward(self, query: str) -> list:
        self.statements += 1
        rows = self.connection.execute(query).fetchall()
        self.connection.commit()
        return rows


def code(text: str) -> str:
    return f"Thought: next.\n```python\n{text}\n```"


def test_stateful_host_tool_across_steps_and_runs() -> None:
    database = Database()
    model = ScriptedModel([
        code("sql('create table fruit (name text, n int)')\nadded = 0\nfor name, n in [('apple', 3), ('pear', 5)]:\n    sql(f\"insert into fruit values ('{name}', {n})\")\n    added += 1\nprint(added)"),
        code("total = sql('select sum(n) from fruit')[0][0]\nfinal_answer(total)"),
        code("sql(\"insert into fruit values ('fig', 2)\")\nadded += 1\nfinal_answer({'total': sql('select sum(n) from fruit')[0][0], 'added': added, 'previous_total': total})"),
    ])
    agent = CodeAgent(tools=[database], model=model, executor=KernelExecutor(timeout=30), max_steps=4)
    try:
        first = agent.run("Store the fruit and sum them.")
        assert first.success and first.output == 8 and len(first.action_steps) == 2
        second = agent.run("Add a fig and report.")
        assert second.success, second.error
        assert second.output == {"total": 10, "added": 3, "previous_total": 8}  # workspace kept `added` and `total`
        assert database.statements == 6  # host state: one connection, every statement
        # the connection is bound to the bridge's tool thread, where every call ran
        count = agent.executor.bridge._thread().submit(lambda: database.connection.execute("select count(*) from fruit").fetchone())
        assert count.result() == (3,)
    finally:
        agent.close()
