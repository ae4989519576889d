import pytest

from smolkernel.tools import Tool, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class Counter(Tool):
    """A stateful tool: counts how often it was called, across steps and runs."""

    name = "count"
    description = "Increase the counter by `step` and return its new value."
    inputs = {"step": {"type": "integer", "description": "how much to add"}}
    output_type = "integer"

    def setup(self) -> None:
        self.value = 0
        self.setups = getattr(self, "setups", 0) + 1

    def forward(self, step: int) -> int:
        self.value += step
        return self.value


@pytest.fixture
def add_tool():
    return add


@pytest.fixture
def counter():
    return Counter()
