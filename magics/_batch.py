"""``%%agent --over VAR``: the cell's task for every item of a list or DataFrame, as one batch."""

from __future__ import annotations

import collections
from typing import Any

from IPython.core.error import UsageError

__all__ = ["items_of", "run_over"]


def items_of(value: Any, name: str) -> list[Any]:
    """The items of ``value``: a DataFrame's rows as dicts, a Series' values, a list's elements.

    Raises:
        UsageError: ``value`` is not a collection of items.
    """
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict("records")
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return list(value.tolist())
    if isinstance(value, (list, tuple, range)) or (hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict))):
        return list(value)
    raise UsageError(f"--over {name}: {type(value).__name__} is not a list, Series or DataFrame")


def _template(text: str, namespace: dict[str, Any]) -> Any:
    """A function filling ``{field}`` from an item (dict fields, or ``{item}``), then from the notebook."""

    def fill(item: Any) -> str:
        fields = dict(item) if isinstance(item, dict) else {}
        scope = collections.ChainMap(fields, {"item": item, "input": item}, namespace)
        try:
            return text.format_map(scope)
        except (KeyError, IndexError) as exc:
            raise UsageError(f"the task needs {exc}, which neither the item nor the notebook has") from None

    return fill


def run_over(shell: Any, agent: Any, text: str, over: str, *, concurrency: int, timeout: float | None) -> Any:
    """Run ``text`` for every item of ``shell.user_ns[over]``; return the results as a DataFrame.

    Raises:
        UsageError: ``over`` is not defined or holds no items, or the task is empty.
    """
    from smolkernel.batch import run_batch

    namespace = shell.user_ns
    if over not in namespace:
        raise UsageError(f"--over {over}: no variable {over!r} in the notebook")
    items = items_of(namespace[over], over)
    if not items:
        raise UsageError(f"--over {over}: {over} is empty")
    if not text.strip():
        raise UsageError("the task is empty; write it in the cell below %%agent --over VAR")
    fill = _template(text.strip(), namespace)
    fill(items[0])  # a missing field is a usage error before anything runs
    result = run_batch(agent, items, task=fill, concurrency=concurrency, timeout=timeout, progress=True, title=f"%%agent --over {over}")
    return result.to_pandas()
