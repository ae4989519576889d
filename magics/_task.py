"""Turning a cell into a task: ``{name}`` filled from the user's namespace, variables described.

Only identifier-shaped fields are filled (``{df}``, ``{cfg.path}``,
``{n!r}``, ``{ratio:.2f}``), so JSON or set literals in a task stay as they
are; ``{{`` and ``}}`` give literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from IPython.core.error import UsageError

__all__ = ["fill_task", "describe_variables", "lookup_variables"]

_FIELD = re.compile(
    r"\{\{|\}\}"  # escaped braces
    r"|\{(?P<name>[A-Za-z_]\w*)(?P<attrs>(?:\.[A-Za-z_]\w*)*)(?:!(?P<conv>[rsa]))?(?::(?P<spec>[^{}]*))?\}"
)
_MAX_FILLED_CHARS = 4000


def fill_task(text: str, namespace: Mapping[str, Any]) -> str:
    """Fill ``{name}`` fields of ``text`` from ``namespace``.

    Returns:
        The task with every identifier-shaped field replaced by the value's
        ``str`` (or ``repr`` with ``!r``, or formatted with ``:spec``); long
        values are cut to a few thousand characters.

    Raises:
        UsageError: a name is not defined, an attribute is missing, or a
            format spec does not fit the value.
    """

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        name = match.group("name")
        if name not in namespace:
            raise UsageError(
                f"the task uses {{{name}}} but no variable {name!r} is defined in this notebook; "
                f"define it first, or write {{{{{name}}}}} for literal braces"
            )
        value = namespace[name]
        for attr in filter(None, match.group("attrs").split(".")):
            try:
                value = getattr(value, attr)
            except AttributeError:
                raise UsageError(f"the task uses {whole} but {type(value).__name__} has no attribute {attr!r}") from None
        return _render(value, match.group("conv"), match.group("spec"), whole)

    return _FIELD.sub(replace, text)


def _render(value: Any, conversion: str | None, spec: str | None, field_text: str) -> str:
    if conversion == "r":
        value = repr(value)
    elif conversion == "a":
        value = ascii(value)
    elif conversion == "s":
        value = str(value)
    try:
        text = format(value, spec or "")
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the task uses {field_text}: {exc}") from None
    if len(text) > _MAX_FILLED_CHARS:
        text = text[:_MAX_FILLED_CHARS] + f" [... {len(text) - _MAX_FILLED_CHARS} more characters]"
    return text


def lookup_variables(names: Iterable[str], namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``names`` in ``namespace``.

    Raises:
        UsageError: a name is not defined (naming it).
    """
    missing = [name for name in names if name not in namespace]
    if missing:
        listed = ", ".join(missing)
        raise UsageError(f"--vars names {listed}, which {'is' if len(missing) == 1 else 'are'} not defined in this notebook; define it first or fix the name")
    return {name: namespace[name] for name in names}


def describe_variables(variables: Mapping[str, Any]) -> str:
    """A note for the task saying which variables the agent's workspace holds, and what they are."""
    if not variables:
        return ""
    lines = [f"- {name}: {describe_value(value)}" for name, value in variables.items()]
    return "Variables already defined in your workspace (use them directly):\n" + "\n".join(lines)


def describe_value(value: Any) -> str:
    """A one-line description of ``value``: its type, and shape, columns or a short repr."""
    kind = type(value)
    label = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__.split('.')[0]}.{kind.__name__}"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        columns = getattr(value, "columns", None)
        extra = f", columns {list(columns)[:20]!r}" if columns is not None else ""
        dtype = getattr(value, "dtype", None)
        extra += f", dtype {dtype}" if dtype is not None and columns is None else ""
        return f"{label}, shape {shape}{extra}"
    if isinstance(value, (list, tuple, set, frozenset, dict)) and len(value) > 10:
        return f"{label} of {len(value)} items"
    text = repr(value)
    return f"{label} = {text if len(text) <= 120 else text[:117] + '...'}"
