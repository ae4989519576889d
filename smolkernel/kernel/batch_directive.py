"""``%%batch --over VAR [--out NAME] [--concurrency N]``: the cell's task for every item, as one batch.

``VAR`` is looked up in the host namespace (where ``%%tool`` cells run), then
in the agent's workspace (``%%python`` variables, sent across as JSON). The
cell is a template: ``{column}`` is filled from each item's fields (rows of a
DataFrame, dicts) and ``{item}`` is the item itself. Every item gets a fresh
agent built like the kernel's; the progress is a live ``BatchView``; the
results come back as a DataFrame (the cell's value, and ``NAME`` in the host
namespace with ``--out``).
"""

from __future__ import annotations

import collections
import json
from typing import Any

from ..exceptions import ConfigurationError
from .directives import DirectiveContext, directive, split_options
from .output import value_bundle

__all__: list[str] = []

_ITEMS_CODE = """import json as _sk_json
_sk_value = {name}
_sk_items = _sk_value.to_dict("records") if hasattr(_sk_value, "columns") else (_sk_value.tolist() if hasattr(_sk_value, "tolist") else list(_sk_value))
print(_sk_json.dumps(_sk_items, default=str))
del _sk_json, _sk_value, _sk_items"""


def _host_items(value: Any, name: str) -> list[Any]:
    if hasattr(value, "columns") and hasattr(value, "to_dict"):
        return value.to_dict("records")
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return list(value.tolist())
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise ConfigurationError(f"%%batch: {name} is a {type(value).__name__}, not a list, Series or DataFrame")
    return list(value)


async def items_for(ctx: DirectiveContext, name: str) -> list[Any]:
    """The items of ``name``: from the host namespace, else from the workspace.

    Raises:
        ConfigurationError: no such variable, or not a collection of items.
    """
    if not name.isidentifier():
        raise ConfigurationError(f"%%batch: --over takes a variable name, not {name!r}")
    host = ctx.kernel.shell.user_ns
    if name in host:
        return _host_items(host[name], name)
    executor = await ctx.session.start_executor()
    out = await executor.run(_ITEMS_CODE.format(name=name))
    if out.error:
        if "NameError" in out.error:
            raise ConfigurationError(f"%%batch: no variable {name!r} in the workspace or the host")
        raise ConfigurationError(f"%%batch: cannot read the items of {name}: {out.error.strip().splitlines()[-1]}")
    try:
        return json.loads(out.logs.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ConfigurationError(f"%%batch: the items of {name} could not be read as JSON") from None


def _template(text: str) -> Any:
    def fill(item: Any) -> str:
        fields = dict(item) if isinstance(item, dict) else {}
        try:
            return text.format_map(collections.ChainMap(fields, {"item": item, "input": item}))
        except (KeyError, IndexError) as exc:
            raise ConfigurationError(f"the task needs {exc}, which the item does not have") from None

    return fill


@directive("batch", "%%batch --over VAR [--out NAME] [--concurrency N]", "run the cell's task for every item of VAR (fresh agents); results as a DataFrame", cell=True)
async def _batch(ctx: DirectiveContext, args: list[str], body: str) -> None:
    from ..batch import arun_batch

    rest, options = split_options("batch", args, ("--over", "--out", "--concurrency"))
    if rest or "--over" not in options:
        raise ConfigurationError("%%batch needs --over VAR, e.g. %%batch --over inquiries --out results")
    out_name = options.get("--out")
    if out_name is not None and not out_name.isidentifier():
        raise ConfigurationError(f"%%batch: --out takes a variable name, not {out_name!r}")
    try:
        concurrency = int(options.get("--concurrency", "16"))
    except ValueError:
        raise ConfigurationError(f"%%batch: --concurrency takes a whole number, not {options['--concurrency']!r}") from None
    if not body.strip():
        raise ConfigurationError("%%batch: the cell below the directive is the task, e.g. 'Classify: {text}'")
    items = await items_for(ctx, options["--over"])
    if not items:
        raise ConfigurationError(f"%%batch: {options['--over']} has no items")
    fill = _template(body.strip())
    fill(items[0])  # a missing field fails the cell before any model call
    agent = ctx.session.ensure_agent()
    result = await arun_batch(agent, items, task=fill, concurrency=concurrency, progress=True, title=f"%%batch --over {options['--over']}")
    frame = result.to_pandas()
    if out_name is not None:
        ctx.kernel.shell.user_ns[out_name] = frame
    ctx.out.stream(result.summary() + "\n")
    data, metadata = value_bundle(ctx.kernel.shell, frame)
    ctx.out.result(data, metadata, ctx.execution_count)
