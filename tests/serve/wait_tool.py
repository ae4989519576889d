"""The ``wait`` tool of the serve tests' agents, in a file of its own so a spec can ship it (``tools: [{file: ...}]``)."""

from __future__ import annotations

import time

from smolkernel.tools import tool


@tool
def wait(seconds: float) -> str:
    """Wait a while.

    Args:
        seconds: how long
    """
    time.sleep(seconds)
    return f"waited {seconds}"
