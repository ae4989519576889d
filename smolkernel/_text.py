"""Small text helpers shared by the views, the kernel and the magics."""

from __future__ import annotations

__all__ = ["counted"]


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``"1 step"``, ``"2 steps"``: ``number`` with ``noun`` in the right number."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"
