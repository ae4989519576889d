"""``SmolKernelLexer``: how SmolKernel cells are highlighted in reports (pygments).

A task is prose, so it stays plain text (``and``, ``in``, ``is`` are words,
not keywords); a directive line is marked as one; the bodies of ``%%python``
and ``%%tool`` cells are Python. The package registers the lexer under the
name ``smolkernel`` (entry point ``pygments.lexers``), which the kernel
names in ``language_info.pygments_lexer``, so nbconvert and ``smolkernel
report`` find it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pygments.lexer import Lexer
from pygments.lexers.python import PythonLexer
from pygments.token import Comment, Keyword, Text

__all__ = ["SmolKernelLexer"]

PYTHON_CELLS = ("%%python", "%%tool")
"""Cell directives whose bodies are Python."""


class SmolKernelLexer(Lexer):
    """Tasks as plain text, directives marked, ``%%python`` / ``%%tool`` bodies as Python."""

    name = "SmolKernel"
    aliases = ["smolkernel"]
    filenames: list[str] = []
    mimetypes = ["text/x-smolkernel"]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._python = PythonLexer(**options)

    def get_tokens_unprocessed(self, text: str) -> Iterator[tuple[int, Any, str]]:
        """Tokens of one cell: ``(index, token type, value)``."""
        stripped = text.lstrip()
        if not stripped.startswith("%"):
            yield 0, Text, text
            return
        lead = len(text) - len(stripped)
        end = text.find("\n", lead)
        end = len(text) if end == -1 else end + 1
        if lead:
            yield 0, Text, text[:lead]
        first = text[lead:end]
        name, _, rest = first.partition(" ")
        yield lead, Keyword, name
        if rest or first != name:
            yield lead + len(name), Comment.Special, first[len(name):]
        body = text[end:]
        if not body:
            return
        if name.rstrip() in PYTHON_CELLS:
            for index, token, value in self._python.get_tokens_unprocessed(body):
                yield end + index, token, value
        else:
            yield end, Text, body
