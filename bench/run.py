"""Core benchmarks: smolkernel next to smolagents 1.26, measured in the same process.

Run with ``make bench`` (or ``python bench/run.py``). Prints one table of
medians and ratios. Both frameworks get the same scripted model replies and
run the code in their in-process executors, so what differs is framework
overhead. Other benchmark scripts in this folder (kernel, widgets) are run
after the core table when present.
"""

from __future__ import annotations

import gc
import importlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
HERE = Path(__file__).resolve().parent
REPEATS = int(os.environ.get("BENCH_REPEATS", "15"))
STEPS = 30


def median_of(fn, repeats: int = REPEATS) -> float:
    values = []
    for _ in range(repeats):
        gc.collect()
        values.append(fn())
    return statistics.median(values)


# -- smolkernel side ---------------------------------------------------------

def sk_tool():
    from smolkernel import tool

    @tool
    def get_weather(city: str) -> str:
        """Return the current weather in a city.

        Args:
            city: the city's name
        """
        return f"sunny in {city}"

    return get_weather


def sk_add():
    from smolkernel import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: first
            b: second
        """
        return a + b

    return add


def sk_code_run(replies, tools=()):
    from smolkernel import CodeAgent, ScriptedModel

    model = ScriptedModel(list(replies))
    agent = CodeAgent(list(tools), model, max_steps=len(replies))
    agent.run("benchmark task")  # warm: executor started, prompt rendered
    agent.model = model = ScriptedModel(list(replies))
    agent.memory.resize(0)
    began = time.perf_counter()
    result = agent.run("benchmark task")
    elapsed = time.perf_counter() - began
    assert result.success, result.error
    agent.close()
    return elapsed, model


def sk_toolcalling_run(replies):
    from smolkernel import ScriptedModel, ToolCallingAgent

    agent = ToolCallingAgent([sk_add()], ScriptedModel(list(replies)), max_steps=len(replies), memory_size=0)
    agent.run("benchmark task")
    agent.model = ScriptedModel(list(replies))
    began = time.perf_counter()
    result = agent.run("benchmark task")
    assert result.success, result.error
    return time.perf_counter() - began


# -- smolagents side ---------------------------------------------------------

def sa_model(replies):
    from smolagents import ChatMessage, Model
    from smolagents.models import ChatMessageToolCall, ChatMessageToolCallFunction
    from smolagents.monitoring import TokenUsage

    class Scripted(Model):
        def __init__(self):
            super().__init__(model_id="scripted")
            self.replies = list(replies)
            self.inputs = []

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            self.inputs.append(messages)
            reply = self.replies.pop(0)
            usage = TokenUsage(input_tokens=1, output_tokens=1)
            if isinstance(reply, dict):
                calls = [ChatMessageToolCall(id=f"c{i}", type="function", function=ChatMessageToolCallFunction(name=c["name"], arguments=c["arguments"])) for i, c in enumerate(reply["tool_calls"])]
                return ChatMessage(role="assistant", content="", tool_calls=calls, token_usage=usage)
            return ChatMessage(role="assistant", content=reply, token_usage=usage)

    return Scripted()


def sa_tool():
    from smolagents import tool

    @tool
    def get_weather(city: str) -> str:
        """Return the current weather in a city.

        Args:
            city: the city's name
        """
        return f"sunny in {city}"

    return get_weather


def sa_code_run(replies, tools=()):
    from smolagents import CodeAgent

    model = sa_model(replies)
    agent = CodeAgent(tools=list(tools), model=model, max_steps=len(replies), verbosity_level=-1)
    began = time.perf_counter()
    agent.run("benchmark task")
    return time.perf_counter() - began, model


def sa_toolcalling_run(replies):
    from smolagents import ToolCallingAgent, tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: first
            b: second
        """
        return a + b

    agent = ToolCallingAgent(tools=[add], model=sa_model(replies), max_steps=len(replies), verbosity_level=-1)
    began = time.perf_counter()
    agent.run("benchmark task")
    return time.perf_counter() - began


# -- measurements ------------------------------------------------------------

def code_replies(n_steps: int, body=lambda i: f"x = {i}"):
    replies = [f"Step {i}.\n```python\n{body(i)}\n```" for i in range(1, n_steps)]
    return replies + ["Done.\n```python\nfinal_answer(x)\n```"]


def tool_replies(n_steps: int):
    replies = [{"tool_calls": [{"name": "add", "arguments": {"a": i, "b": 1}}]} for i in range(1, n_steps)]
    return replies + [{"tool_calls": [{"name": "final_answer", "arguments": {"answer": "done"}}]}]


def input_chars(messages) -> int:
    total = 0
    for m in messages:
        content = m.content if hasattr(m, "content") else m.get("content")
        if isinstance(content, list):
            total += sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
        elif content:
            total += len(content)
    return total


def import_time(statement: str) -> float:
    def once():
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        return time.perf_counter() - began

    baseline = median_of(lambda: (lambda b: (subprocess.run([sys.executable, "-c", "pass"], check=True), time.perf_counter() - b)[1])(time.perf_counter()), 7)
    return median_of(once, 7) - baseline


def count_tokens(text: str) -> int:
    import litellm.litellm_core_utils.tokenizers as bundled

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", os.path.dirname(bundled.__file__))
    import tiktoken

    return len(tiktoken.get_encoding("cl100k_base").encode(text))


def main() -> None:
    rows = []

    sk = median_of(lambda: sk_code_run(code_replies(STEPS))[0]) / STEPS * 1000
    sa = median_of(lambda: sa_code_run(code_replies(STEPS))[0]) / STEPS * 1000
    rows.append(("CodeAgent per-step overhead (ms)", sk, sa, "≤ 0.5"))

    sk = median_of(lambda: sk_toolcalling_run(tool_replies(STEPS))) / STEPS * 1000
    sa = median_of(lambda: sa_toolcalling_run(tool_replies(STEPS))) / STEPS * 1000
    rows.append(("ToolCallingAgent per-step overhead (ms)", sk, sa, "≤ 0.3"))

    rows.append(("import smolkernel / smolagents (ms)", import_time("import smolkernel") * 1000, import_time("import smolagents") * 1000, "≤ 150"))
    rows.append(("from smolkernel import CodeAgent (ms)", import_time("from smolkernel import CodeAgent, tool") * 1000, import_time("from smolagents import CodeAgent, tool") * 1000, "-"))

    from smolagents import CodeAgent as SACodeAgent
    from smolkernel import CodeAgent, ScriptedModel

    sk_prompt = CodeAgent([sk_tool()], ScriptedModel([])).system_prompt
    sa_prompt = SACodeAgent(tools=[sa_tool()], model=sa_model([]), verbosity_level=-1).system_prompt
    rows.append(("CodeAgent system prompt, one tool (tokens)", count_tokens(sk_prompt), count_tokens(sa_prompt), "≤ 1200"))

    flood = lambda i: f"x = {i}\nprint('y' * 2000)"  # noqa: E731
    _, sk_model = sk_code_run(code_replies(10, flood))
    _, sa_model_ = sa_code_run(code_replies(10, flood))
    sk_chars = sum(input_chars(call) for call in sk_model.calls)
    sa_chars = sum(input_chars(call) for call in sa_model_.inputs)
    rows.append(("input chars, 10 steps x 2,000-char observations", sk_chars, sa_chars, "≤ 60% of smolagents"))

    print(f"\n{'benchmark':52} {'smolkernel':>12} {'smolagents':>12} {'ratio':>7}  goal")
    for name, ours, theirs, goal in rows:
        ratio = ours / theirs if theirs else float("nan")
        print(f"{name:52} {ours:12.3f} {theirs:12.3f} {ratio:7.2f}  {goal}")
    print(f"(medians of {REPEATS} runs; per-step figures over {STEPS}-step runs; tokens by cl100k_base)")

    for extra in ("bench_kernel", "bench_kernel_start", "bench_widgets", "bench_transformers", "bench_remote", "bench_mcp", "bench_host_memory", "bench_serve", "bench_serve_dask", "bench_batch"):
        if (HERE / f"{extra}.py").exists() and os.environ.get("BENCH_ONLY_CORE") != "1":
            print(f"\n== {extra} ==")
            sys.path.insert(0, str(HERE))
            module = importlib.import_module(extra)
            module.main([]) if extra == "bench_transformers" else module.main()


if __name__ == "__main__":
    main()
