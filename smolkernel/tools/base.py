"""Tools: what an agent can call. ``Tool`` subclasses hold state; ``@tool`` wraps a function.

A tool is checked when it is defined: a missing description or ``Args:``
entry, an unsupported type hint, or a reserved name raises
``ToolDefinitionError`` naming the tool and the fix. Arguments are checked
again at call time; a bad call raises ``AgentToolCallError``, which the agent
turns into an observation the model can act on.
"""

from __future__ import annotations

import copy
import functools
import inspect
import keyword
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from ..exceptions import AgentToolCallError, ToolDefinitionError
from ..monitoring import tool_call
from .schema import JSON_TYPES, check_value, python_annotation

__all__ = ["Tool", "RESERVED_NAMES", "validate_tool", "check_unique_names"]

RESERVED_NAMES = frozenset(
    {"print", "input", "open", "exec", "eval", "compile", "globals", "locals", "vars", "dir", "help", "exit", "quit",
     "len", "range", "type", "object", "list", "dict", "set", "str", "int", "float", "bool", "tuple", "id", "super"}
)
"""Names a tool may not take: they would shadow builtins in generated code."""


class Tool:
    """A capability the agent can call.

    Subclasses set the class attributes and implement ``forward`` with one
    parameter per entry of ``inputs``. Expensive state (a database connection,
    a model) belongs in ``setup``, which runs once, on the first call.

    Attributes:
        name: a Python identifier, unique among an agent's tools.
        description: what the tool does, for the model.
        inputs: ``{arg: {"type": <json type>, "description": ..., "nullable": bool}}``.
        output_type: the JSON type of the result (``"any"`` when it varies).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[dict[str, dict[str, Any]]] = {}
    output_type: ClassVar[str] = "any"
    output_schema: ClassVar[dict[str, Any] | None] = None
    _setup_done: bool = False

    def __init__(self) -> None:
        self._setup_done = False
        self._setup_lock = threading.Lock()
        validate_tool(self)

    def setup(self) -> None:
        """Create expensive state; runs once, before the first call."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Do the work. Subclasses implement this."""
        raise NotImplementedError(f"tool {self.name!r} does not implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Check the arguments, run ``setup`` once, then ``forward``.

        Raises:
            AgentToolCallError: unknown, missing or mistyped arguments.
        """
        with tool_call(self.name):
            arguments = self.bind_arguments(args, kwargs)
            self.ensure_setup()
            return self.forward(**arguments)

    def ensure_setup(self) -> None:
        """Run ``setup`` if it has not run yet (thread-safe)."""
        if not self._setup_done:
            # A subclass whose __init__ skips super().__init__() has no lock yet.
            lock = self.__dict__.setdefault("_setup_lock", threading.Lock())
            with lock:
                if not self._setup_done:
                    self.setup()
                    self._setup_done = True

    # -- arguments ---------------------------------------------------------

    def bind_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Map positional and keyword arguments to ``inputs`` and check their types.

        A single dict positional argument whose keys are all input names is
        accepted as the keyword arguments (models often call ``tool({...})``),
        unless the tool's only input takes a dict itself (type ``object`` or
        ``any``, like ``final_answer``): then the dict is the value. Optional
        inputs that were not given get their declared default (or None).
        """
        names = list(self.inputs)
        if len(args) == 1 and not kwargs and self._looks_like_kwargs(args[0]):
            args, kwargs = (), dict(args[0])
        if len(args) > len(names):
            raise AgentToolCallError(f"{self.name}() takes {len(names)} argument(s) but {len(args)} were given. Usage: {self.usage()}")
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in self.inputs:
                raise AgentToolCallError(f"{self.name}() got an unexpected argument {key!r}; its arguments are: {', '.join(names) or 'none'}. Usage: {self.usage()}")
            if key in bound:
                raise AgentToolCallError(f"{self.name}() got two values for argument {key!r}")
            bound[key] = value
        for key, spec in self.inputs.items():
            if key not in bound:
                if "default" in spec:
                    bound[key] = copy.deepcopy(spec["default"])
                    continue
                if spec.get("nullable"):
                    bound[key] = None
                    continue
                raise AgentToolCallError(f"{self.name}() is missing the required argument {key!r}. Usage: {self.usage()}")
            problem = check_value(bound[key], spec)
            if problem:
                raise AgentToolCallError(f"{self.name}(): argument {key!r} {problem}. Usage: {self.usage()}")
        return bound

    def _looks_like_kwargs(self, value: Any) -> bool:
        """True if ``value`` is a dict of this tool's arguments rather than one argument."""
        names = list(self.inputs)
        if not isinstance(value, dict) or not value or not set(value) <= set(names):
            return False
        return not (len(names) == 1 and self.inputs[names[0]].get("type") in ("object", "any"))

    # -- how the model sees the tool --------------------------------------

    def usage(self) -> str:
        """A one-line call signature, e.g. ``search(query: str, limit: int = 5) -> list``."""
        parts = []
        for key, spec in self.inputs.items():
            part = f"{key}: {python_annotation(spec)}"
            if "default" in spec:
                part += f" = {spec['default']!r}"
            elif spec.get("nullable"):
                part += " = None"
            parts.append(part)
        return f"{self.name}({', '.join(parts)}) -> {python_annotation({'type': self.output_type})}"

    def to_code_prompt(self) -> str:
        """The Python signature and docstring shown to a CodeAgent."""
        lines = [f"def {self.usage()}:", f'    """{self.description.strip()}']
        if self.inputs:
            lines.append("")
            lines.append("    Args:")
            for key, spec in self.inputs.items():
                lines.append(f"        {key}: {spec.get('description', '').strip()}")
        lines.append('    """')
        return "\n".join(lines)

    def to_json_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI-style function definition (native tool calling)."""
        properties = {}
        required = []
        for key, spec in self.inputs.items():
            prop = {k: v for k, v in spec.items() if k not in ("nullable", "default")}
            if prop.get("type") == "any":
                prop.pop("type")
            properties[key] = prop
            if not spec.get("nullable") and "default" not in spec:
                required.append(key)
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description.strip(),
                "parameters": {"type": "object", "properties": properties, "required": required},
            },
        }

    @staticmethod
    def from_smolagents(tool: Any) -> Tool:
        """Adapt a smolagents tool so that it can be used here unchanged.

        Raises:
            ToolDefinitionError: ``tool`` is not a smolagents tool.
        """
        from .smolagents_compat import from_smolagents

        return from_smolagents(tool)

    def save(self, folder: Any) -> Any:
        """Write ``tool.py`` (its source and what it uses) and ``requirements.txt`` into ``folder``."""
        from ..sharing.tool_files import save_tool

        return save_tool(self, folder)

    def push_to_hub(self, repo_id: str, *, token: str | None = None, private: bool = True, commit_message: str | None = None, **options: Any) -> str:
        """Share this tool on the Hub (``tool.py`` + ``requirements.txt``); load it with ``smolkernel.load_tool``.

        Returns:
            The commit id of the new revision.
        """
        from ..sharing.hub import push_tool

        return push_tool(self, repo_id, token=token, private=private, commit_message=commit_message, **options)

    def __repr__(self) -> str:
        return f"<Tool {self.usage()}>"

    # -- tools from outside -------------------------------------------------

    @classmethod
    def from_space(cls, space_id_or_url: str, *, api_name: str | None = None, name: str | None = None,
                   description: str | None = None, token: str | None = None, timeout: float = 120.0) -> Tool:
        """A tool that calls one endpoint of a Gradio app (a Hugging Face Space or a URL).

        Inputs come from the app's API description; files and images come
        back as ``Media`` (shown as displays). See ``smolkernel.tools.space``.

        Raises:
            ConfigurationError: the app cannot be reached or has no such endpoint.
            MissingExtraError: ``gradio_client`` is not installed.
        """
        from .space import SpaceTool

        return SpaceTool(space_id_or_url, api_name=api_name, name=name, description=description, token=token, timeout=timeout)


class FunctionTool(Tool):
    """A tool made by ``@tool`` from a plain function (instances set their own attributes)."""

    def __init__(self, function: Callable[..., Any], name: str, description: str, inputs: dict[str, dict[str, Any]], output_type: str):
        self.name = name  # type: ignore[misc]
        self.description = description  # type: ignore[misc]
        self.inputs = inputs  # type: ignore[misc]
        self.output_type = output_type  # type: ignore[misc]
        self.function = function
        self.__doc__ = function.__doc__
        self.__wrapped__ = function
        self._positional_only = [
            p.name for p in inspect.signature(function).parameters.values() if p.kind is p.POSITIONAL_ONLY
        ]
        super().__init__()

    def forward(self, **kwargs: Any) -> Any:
        """Call the function (positional-only parameters are passed by position)."""
        positional = [kwargs.pop(name) for name in self._positional_only if name in kwargs]
        return self.function(*positional, **kwargs)


@functools.lru_cache(maxsize=512)
def _method_parameters(method: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    """The parameters of a ``forward`` method, less ``self``; cached, since a batch builds its tools once per input."""
    return dict(list(inspect.signature(method).parameters.items())[1:])


def validate_tool(tool: Tool) -> None:
    """Check a tool's definition.

    Raises:
        ToolDefinitionError: naming the tool, the problem and the fix.
    """
    label = tool.name or type(tool).__name__
    if not isinstance(tool.name, str) or not tool.name.isidentifier() or keyword.iskeyword(tool.name):
        raise ToolDefinitionError(f"tool {label!r}: name must be a Python identifier; set `name = \"my_tool\"`")
    if tool.name in RESERVED_NAMES:
        raise ToolDefinitionError(f"tool {tool.name!r}: the name shadows a Python builtin; choose another name")
    if not isinstance(tool.description, str) or not tool.description.strip():
        raise ToolDefinitionError(f"tool {tool.name!r}: the description is missing; give the function a docstring (or set `description`)")
    if not isinstance(tool.inputs, dict):
        raise ToolDefinitionError(f"tool {tool.name!r}: `inputs` must be a dict of argument name -> {{'type': ..., 'description': ...}}")
    for key, spec in tool.inputs.items():
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            raise ToolDefinitionError(f"tool {tool.name!r}: input name {key!r} is not a Python identifier; rename it, e.g. {'my_arg'!r}")
        if not isinstance(spec, dict) or "type" not in spec or "description" not in spec:
            raise ToolDefinitionError(f"tool {tool.name!r}: input {key!r} needs a 'type' and a 'description'")
        if not isinstance(spec["type"], str) or spec["type"] not in JSON_TYPES:
            raise ToolDefinitionError(
                f"tool {tool.name!r}: input {key!r} has unsupported type {spec['type']!r}; use one of {sorted(JSON_TYPES)}"
                " (for an optional input add \"nullable\": True instead of a list of types)"
            )
    if not isinstance(tool.output_type, str) or tool.output_type not in JSON_TYPES:
        raise ToolDefinitionError(f"tool {tool.name!r}: output_type {tool.output_type!r} is not one of {sorted(JSON_TYPES)}")
    forward = tool.forward
    if not isinstance(tool, FunctionTool):
        if type(tool).forward is Tool.forward:
            raise ToolDefinitionError(f"tool {tool.name!r}: implement forward({', '.join(tool.inputs)})")
        method = getattr(forward, "__func__", None)
        params = _method_parameters(method) if method is not None and getattr(forward, "__self__", None) is tool else inspect.signature(forward).parameters
        accepts_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        missing = [k for k in tool.inputs if k not in params]
        if missing and not accepts_kwargs:
            raise ToolDefinitionError(f"tool {tool.name!r}: forward() lacks parameter(s) {missing} declared in `inputs`")
        extra = [k for k, p in params.items() if k not in tool.inputs and p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if extra:
            raise ToolDefinitionError(f"tool {tool.name!r}: forward() parameter(s) {extra} are not declared in `inputs`")


def check_unique_names(tools: Iterable[Tool]) -> dict[str, Tool]:
    """Index ``tools`` by name, refusing two tools with the same name.

    Returns:
        ``{tool.name: tool}`` in the given order.

    Raises:
        ToolDefinitionError: naming the clashing tools and how to fix it.
    """
    by_name: dict[str, Tool] = {}
    for item in tools:
        if not isinstance(item, Tool):
            raise ToolDefinitionError(f"{item!r} is not a Tool; decorate the function with @tool or subclass Tool")
        if item.name in by_name and by_name[item.name] is not item:
            raise ToolDefinitionError(
                f"two tools are named {item.name!r} ({by_name[item.name]!r} and {item!r}); "
                "rename one, e.g. @tool(name=\"other_name\") or `name = \"other_name\"`"
            )
        by_name[item.name] = item
    return by_name
