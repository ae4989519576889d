"""Tools written for smolagents, used unchanged: ``Tool.from_smolagents(tool)``.

The smolagents tool keeps doing the work (its ``setup`` on first call, its
``forward``); the adapter gives it smolkernel's argument checks and prompt
forms. smolagents' ``image`` and ``audio`` types become ``any`` here (the
value passes through as it is, e.g. a PIL image shows as a display), and a
list of types such as ``["string", "null"]`` becomes a nullable input.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ToolDefinitionError
from .base import Tool
from .schema import JSON_TYPES

__all__ = ["SmolagentsTool", "from_smolagents"]


class SmolagentsTool(Tool):
    """A smolagents tool seen as a smolkernel Tool.

    Attributes:
        wrapped: the smolagents tool itself.
    """

    def __init__(self, wrapped: Any):
        self.wrapped = wrapped
        self.name = str(getattr(wrapped, "name", "") or "")  # type: ignore[misc]
        self.description = str(getattr(wrapped, "description", "") or "")  # type: ignore[misc]
        self.inputs = {key: _input(self.name, key, spec) for key, spec in dict(getattr(wrapped, "inputs", {}) or {}).items()}  # type: ignore[misc]
        self.output_type = _type(getattr(wrapped, "output_type", "any"))[0]  # type: ignore[misc]
        super().__init__()

    def forward(self, **kwargs: Any) -> Any:
        """Call the smolagents tool (it runs its own ``setup`` once) and unwrap its agent types."""
        result = self.wrapped(**kwargs)
        to_raw = getattr(result, "to_raw", None)
        if callable(to_raw) and type(result).__module__.startswith("smolagents"):
            return to_raw()
        return result


def _type(value: Any) -> tuple[str, bool]:
    """(smolkernel type, nullable) for a smolagents type or list of types."""
    if isinstance(value, list):
        kinds = [v for v in value if v != "null"]
        base = _type(kinds[0])[0] if len(kinds) == 1 else "any"
        return base, "null" in value
    if value in ("image", "audio"):
        return "any", False
    return (value, False) if value in JSON_TYPES else ("any", False)


def _input(tool_name: str, key: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or "type" not in spec:
        raise ToolDefinitionError(f"smolagents tool {tool_name!r}: input {key!r} has no 'type'")
    kind, nullable = _type(spec["type"])
    out = {k: v for k, v in spec.items() if k != "type"}
    out["type"] = kind
    out.setdefault("description", "")
    if spec["type"] in ("image", "audio"):
        out["description"] = f"{out['description']} ({spec['type']})".strip()
    if nullable or spec.get("nullable"):
        out["nullable"] = True
    return out


def from_smolagents(tool: Any) -> SmolagentsTool:
    """Adapt a smolagents ``Tool`` instance (or a ``@tool`` function of smolagents).

    The result remembers how to be described in a spec: by its class's import
    path when it has one, else by the code smolagents writes for it.

    Raises:
        ToolDefinitionError: ``tool`` is not a smolagents tool, or its definition is bad.
    """
    try:
        from smolagents.tools import Tool as SmolTool
    except ImportError:
        raise ToolDefinitionError("Tool.from_smolagents needs smolagents installed (pip install smolagents)") from None
    if isinstance(tool, type) and issubclass(tool, SmolTool):
        tool = tool()
    if not isinstance(tool, SmolTool):
        raise ToolDefinitionError(f"Tool.from_smolagents takes a smolagents Tool, not {type(tool).__name__}")
    adapted = SmolagentsTool(tool)
    _remember_origin(adapted, tool)
    return adapted


def _remember_origin(adapted: SmolagentsTool, tool: Any) -> None:
    from ..sharing.source import _required_init_args, importable_path

    cls = type(tool)
    path = importable_path(cls)
    if path and not _required_init_args(cls) and not type(tool).__module__.startswith("smolagents.tools"):
        adapted.spec_entry = path  # type: ignore[attr-defined]
        return
    try:
        adapted._source_code = tool.to_dict()["code"]  # type: ignore[attr-defined]
    except Exception:  # smolagents cannot write this tool's code; only an import path could name it
        pass
