"""``Tool`` subclasses: definition checks, stateful setup, unique names."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from smolkernel.exceptions import ToolDefinitionError
from smolkernel.tools import RESERVED_NAMES, Tool, check_unique_names, tool, validate_tool


class Greeter(Tool):
    name = "greet"
    description = "Greet someone by name."
    inputs = {
        "person": {"type": "string", "description": "who to greet"},
        "excited": {"type": "boolean", "description": "add an exclamation mark", "default": False},
    }
    output_type = "string"

    def forward(self, person: str, excited: bool) -> str:
        return f"Hello {person}{'!' if excited else '.'}"


def test_valid_subclass_is_callable_with_defaults_from_inputs() -> None:
    greet = Greeter()
    assert greet("Ada") == "Hello Ada."
    assert greet("Ada", excited=True) == "Hello Ada!"


def test_setup_runs_once_on_first_call_only() -> None:
    class Counter(Tool):
        name = "count"
        description = "Count calls."
        inputs: dict[str, Any] = {}
        output_type = "integer"

        def __init__(self) -> None:
            super().__init__()
            self.setups = 0

        def setup(self) -> None:
            self.setups += 1
            self.calls = 0

        def forward(self) -> int:
            self.calls += 1
            return self.calls

    counter = Counter()
    assert counter.setups == 0, "setup must wait for the first call"
    assert [counter(), counter(), counter()] == [1, 2, 3]
    assert counter.setups == 1


def test_setup_runs_once_under_concurrent_first_calls() -> None:
    started = threading.Event()

    class Slow(Tool):
        name = "slow"
        description = "Slow setup."
        inputs: dict[str, Any] = {}
        output_type = "integer"
        setups = 0

        def setup(self) -> None:
            started.wait(0.2)
            type(self).setups += 1

        def forward(self) -> int:
            return type(self).setups

    slow = Slow()
    threads = [threading.Thread(target=slow) for _ in range(8)]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()
    assert Slow.setups == 1


def test_subclass_that_skips_super_init_still_runs_setup() -> None:
    class Forgetful(Tool):
        name = "forgetful"
        description = "Forgets super().__init__()."
        inputs: dict[str, Any] = {}
        output_type = "string"

        def __init__(self) -> None:
            self.ready = False

        def setup(self) -> None:
            self.ready = True

        def forward(self) -> str:
            return "ready" if self.ready else "not ready"

    assert Forgetful()() == "ready"


# -- definition errors -------------------------------------------------------------


def _define(**attributes: Any) -> Tool:
    """Instantiate a Tool subclass built from ``attributes`` (forward included)."""
    base = {"name": "demo", "description": "A demo.", "inputs": {}, "output_type": "string"}
    base.update(attributes)
    return type("Demo", (Tool,), base)()


def test_missing_name_names_the_class_and_the_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'Demo': name must be a Python identifier; set `name = \"my_tool\"`"):
        _define(name="", forward=lambda self: "")


def test_reserved_name_is_refused() -> None:
    assert "open" in RESERVED_NAMES
    with pytest.raises(ToolDefinitionError, match=r"tool 'open'.*shadows a Python builtin"):
        _define(name="open", forward=lambda self: "")


def test_missing_description_says_how_to_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo'.*description is missing.*set `description`"):
        _define(description="  ", forward=lambda self: "")


def test_missing_forward_says_which_signature_to_implement() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': implement forward\(x\)"):
        _define(inputs={"x": {"type": "string", "description": "x"}})


def test_forward_lacking_a_declared_input() -> None:
    def forward(self: Tool) -> str:
        return ""

    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': forward\(\) lacks parameter\(s\) \['x'\] declared in `inputs`"):
        _define(inputs={"x": {"type": "string", "description": "x"}}, forward=forward)


def test_forward_with_an_undeclared_required_parameter() -> None:
    def forward(self: Tool, x: str, y: str) -> str:
        return x + y

    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': forward\(\) parameter\(s\) \['y'\] are not declared in `inputs`"):
        _define(inputs={"x": {"type": "string", "description": "x"}}, forward=forward)


def test_forward_with_kwargs_accepts_any_inputs() -> None:
    def forward(self: Tool, **kwargs: Any) -> str:
        return ",".join(sorted(kwargs))

    demo = _define(inputs={"x": {"type": "string", "description": "x"}}, forward=forward)
    assert demo(x="1") == "x"


def test_input_without_type_or_description() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': input 'x' needs a 'type' and a 'description'"):
        _define(inputs={"x": {"type": "string"}}, forward=lambda self, x: x)


def test_input_with_unsupported_type_lists_the_choices() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': input 'x' has unsupported type 'text'; use one of \['any', 'array'"):
        _define(inputs={"x": {"type": "text", "description": "x"}}, forward=lambda self, x: x)


def test_input_with_a_list_of_types_suggests_nullable() -> None:
    with pytest.raises(ToolDefinitionError, match=r"input 'x' has unsupported type \['string', 'null'\].*\"nullable\": True"):
        _define(inputs={"x": {"type": ["string", "null"], "description": "x"}}, forward=lambda self, x: x)


def test_input_name_must_be_an_identifier() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': input name 'max-results' is not a Python identifier"):
        _define(inputs={"max-results": {"type": "integer", "description": "n"}}, forward=lambda self, **kw: "")


def test_inputs_must_be_a_dict() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': `inputs` must be a dict"):
        _define(inputs=["x"], forward=lambda self, x: x)


def test_unsupported_output_type() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool 'demo': output_type 'str' is not one of"):
        _define(output_type="str", forward=lambda self: "")


def test_validate_tool_accepts_a_valid_tool() -> None:
    validate_tool(Greeter())


# -- unique names --------------------------------------------------------------------


def _named(name: str) -> Tool:
    @tool(name=name)
    def function(x: str) -> str:
        """Echo.

        Args:
            x: text
        """
        return x

    return function


def test_check_unique_names_indexes_tools_by_name() -> None:
    first, second = _named("one"), _named("two")
    assert check_unique_names([first, second]) == {"one": first, "two": second}


def test_check_unique_names_refuses_a_clash_naming_both_and_the_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"two tools are named 'echo'.*rename one"):
        check_unique_names([_named("echo"), _named("echo")])


def test_check_unique_names_accepts_the_same_tool_twice() -> None:
    echo = _named("echo")
    assert check_unique_names([echo, echo]) == {"echo": echo}


def test_check_unique_names_refuses_non_tools_with_the_fix() -> None:
    with pytest.raises(ToolDefinitionError, match=r"is not a Tool; decorate the function with @tool"):
        check_unique_names([print])  # type: ignore[list-item]
