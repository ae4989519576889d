"""Talking to the sibling kernel beyond running code: rich answers, completion, inspection.

A final answer that is not JSON (a DataFrame, a figure) crosses the tool
bridge as its ``repr`` text. To show it in its rich form, the kernel asks
the sibling to keep the last answer object (a small wrapper around the
bridge's ``call_tool``, re-applied before each task because a tool change
reinstalls the bridge) and, after the run, to display it; the display's mime
bundle becomes the cell's ``execute_result``.

Completion and inspection in ``%%python`` cells are forwarded to the sibling
with the same jupyter_client the executor uses, under its lock.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

__all__ = ["KEEP_ANSWER_CODE", "is_sibling", "keep_answers", "fetch_answer_bundle", "forward_request", "host_bundle"]

KEEP_ANSWER_CODE = """\
import sys as _sk_sys
_sk_m = _sk_sys.modules.get('_smolkernel_bridge')
if _sk_m is not None and not getattr(_sk_m.call_tool, '_sk_keeps', False):
    def _sk_keep(name, args, kwargs, _call=_sk_m.call_tool, _m=_sk_m):
        if name == 'final_answer':
            _m.sk_last_answer = (args[0] if args else kwargs.get('answer'),)
        return _call(name, args, kwargs)
    _sk_keep._sk_keeps = True
    _sk_m.call_tool = _sk_keep
    del _sk_keep
del _sk_sys, _sk_m
"""
"""Wraps the sibling bridge's ``call_tool`` so it remembers the object given to ``final_answer``."""

FETCH_ANSWER_CODE = """\
import sys as _sk_sys
_sk_m = _sk_sys.modules.get('_smolkernel_bridge')
_sk_a = getattr(_sk_m, 'sk_last_answer', None)
if _sk_m is not None:
    _sk_m.sk_last_answer = None
if _sk_a is not None and not isinstance(_sk_a[0], str):
    __import__('IPython').display.display(_sk_a[0])
del _sk_sys, _sk_m, _sk_a
"""
"""Displays the kept answer in the sibling (only when it was not a string)."""

FORWARD_TIMEOUT = 5.0
"""Seconds a forwarded completion or inspection may take."""


def is_sibling(executor: Any) -> bool:
    """True for executors that run code in a sibling Jupyter kernel (``kernel``, ``sandbox``)."""
    return hasattr(executor, "bridge") and hasattr(executor, "is_alive")


def _client(executor: Any) -> Any:
    process = getattr(executor, "_process", None)
    return getattr(process, "client", None)


async def keep_answers(executor: Any) -> None:
    """Make the sibling remember the next final answer object (best effort)."""
    if is_sibling(executor) and executor.is_alive():
        await executor.run(KEEP_ANSWER_CODE)


async def fetch_answer_bundle(executor: Any) -> dict[str, Any] | None:
    """The rich display of the last final answer kept in the sibling, or None."""
    if not (is_sibling(executor) and executor.is_alive()):
        return None
    out = await executor.run(FETCH_ANSWER_CODE)
    if out.error or not out.displays:
        return None
    return out.displays[-1]


def host_bundle(shell: Any, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mime bundle of a value in the host (strings shown as they are, without quotes)."""
    if isinstance(value, str):
        return {"text/plain": value}, {}
    try:
        data, metadata = shell.display_formatter.format(value)
    except Exception:  # a broken _repr_ must not fail the cell
        data, metadata = {"text/plain": repr(value)}, {}
    return data or {"text/plain": repr(value)}, metadata or {}


async def forward_request(executor: Any, msg_type: str, code: str, cursor_pos: int, detail_level: int = 0) -> dict[str, Any] | None:
    """Send a ``complete_request`` or ``inspect_request`` to the sibling; its reply content, or None.

    None when the executor has no live sibling, or it did not answer in time.
    """
    client = _client(executor)
    if client is None or not executor.is_alive():
        return None
    lock = getattr(executor, "_lock", None)
    async with lock if lock is not None else contextlib.nullcontext():
        if msg_type == "complete":
            msg_id = client.complete(code, cursor_pos)
        else:
            msg_id = client.inspect(code, cursor_pos, detail_level)
        deadline = time.monotonic() + FORWARD_TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                reply = await client.get_shell_msg(timeout=remaining)
            except Exception:  # queue.Empty on timeout, or a closed channel
                return None
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply["content"]
    return None
