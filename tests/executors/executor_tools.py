"""Tools the executor tests share: one definition, imported by each test module."""

from smolkernel.tools import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first
        b: the second
    """
    return a + b
