"""How much of what a sibling kernel sends the host keeps: every cap, in one place.

Code in a sibling kernel (or in a sandbox) controls every byte the kernel
sends. These bounds keep the host's memory small whatever it sends:

* :func:`bounded_context` makes the ZMQ context of the host's kernel client:
  a message larger than :data:`MAX_MESSAGE_BYTES` closes that connection
  before it is read into memory (ZMQ reconnects; the message is lost), and at
  most :data:`RECEIVE_QUEUE` messages wait per socket while the host is not
  reading (the kernel side holds the rest, or drops them).
* :func:`cap_text` and :func:`cap_bundle` cut every field the host keeps
  (errors, last values, displays, answers) to a fixed size with a marker.
* :func:`check_json_shape` refuses decoded values nested deeper than
  :data:`MAX_NESTING` (the host's ``repr``/``json`` would recurse).

Worst case per kernel client: about ``RECEIVE_QUEUE * MAX_MESSAGE_BYTES`` per
socket while idle, plus the kept fields below. ``bench/bench_host_memory.py``
measures it.
"""

from __future__ import annotations

from typing import Any

import zmq
import zmq.asyncio

__all__ = [
    "MAX_MESSAGE_BYTES", "RECEIVE_QUEUE", "MAX_FIELD_CHARS", "MAX_BUNDLE_CHARS", "MAX_DISPLAYS_CHARS", "MAX_NESTING",
    "bounded_context", "cap_text", "cap_bundle", "check_json_shape",
]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest ZMQ message the host accepts from a kernel (a bigger one drops the connection unread)."""
RECEIVE_QUEUE = 2
"""Messages ZMQ may queue per host socket while the host does not read (the high-water mark)."""
MAX_FIELD_CHARS = 100_000
"""Characters kept of an error, a last value's text or a final answer's text."""
MAX_BUNDLE_CHARS = 4_000_000
"""Characters kept of one display (mime bundle); a larger one becomes a note."""
MAX_DISPLAYS_CHARS = 8_000_000
"""Characters kept of all displays of one execution together; later ones are counted, not kept."""
MAX_NESTING = 100
"""Deepest nesting of lists/dicts accepted in a value that crossed from the kernel."""


def bounded_context() -> zmq.asyncio.Context:
    """A new asyncio ZMQ context whose sockets enforce the message-size and queue caps."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
    context.setsockopt(zmq.LINGER, 0)
    return context


def cap_text(text: Any, limit: int = MAX_FIELD_CHARS) -> Any:
    """``text`` cut to ``limit`` characters (head and tail kept, a marker between); non-strings unchanged."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - head - tail} characters omitted ...]\n{text[-tail:] if tail else ''}"


def bundle_size(data: Any) -> int:
    """Characters in a mime bundle's values (text, or JSON values measured roughly by their strings)."""
    if not isinstance(data, dict):
        return 0
    total = 0
    for value in data.values():
        total += len(value) if isinstance(value, str) else _rough_size(value)
    return total


def cap_bundle(data: Any, limit: int = MAX_BUNDLE_CHARS) -> dict[str, Any]:
    """A mime bundle no larger than ``limit`` characters (too large: a ``text/plain`` note)."""
    if not isinstance(data, dict):
        return {"text/plain": "[malformed display omitted]"}
    size = bundle_size(data)
    if size > limit:
        return {"text/plain": f"[display of {size} characters omitted]"}
    return data


def check_json_shape(value: Any, max_depth: int = MAX_NESTING) -> None:
    """Raise ``ValueError`` when ``value`` nests lists/dicts deeper than ``max_depth`` (iterative walk)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth >= max_depth:
                raise ValueError(f"value nested deeper than {max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _rough_size(value: Any, budget: int = MAX_BUNDLE_CHARS + 1) -> int:
    """Approximate characters of a JSON value without recursion (stops counting past ``budget``)."""
    total = 0
    stack = [value]
    while stack and total < budget:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            total += len(item)
            stack.extend(item)
        else:
            total += 8
    return total
