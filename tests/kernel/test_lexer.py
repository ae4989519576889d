"""Task cells are highlighted as plain text, ``%%python`` and ``%%tool`` bodies as Python (pygments, reports)."""

from __future__ import annotations

from pygments.lexers import get_lexer_by_name
from pygments.token import Keyword, Name, Text

from smolkernel.kernel.lexer import SmolKernelLexer


def test_the_package_registers_the_lexer_by_name():
    assert isinstance(get_lexer_by_name("smolkernel"), SmolKernelLexer)


def test_a_task_is_plain_text():
    tokens = list(SmolKernelLexer().get_tokens("Is the answer in the table and is it sorted?\n"))
    assert tokens == [(Text, "Is the answer in the table and is it sorted?\n")]


def test_python_and_tool_bodies_are_python():
    for marker in ("%%python", "%%tool"):
        tokens = list(SmolKernelLexer().get_tokens(f"{marker}\nif x in items:\n    pass\n"))
        assert tokens[0] == (Keyword, f"{marker}\n")
        assert (Keyword, "if") in tokens and (Name, "x") in tokens


def test_a_directive_line_is_marked_and_its_text_kept():
    text = "%model scripted:replies.json --record out.jsonl\n"
    tokens = list(SmolKernelLexer().get_tokens(text))
    assert tokens[0] == (Keyword, "%model") and "".join(v for _, v in tokens) == text


def test_kernel_info_names_the_lexer(kernel):
    info = kernel.request("kernel_info")["language_info"]
    assert info["name"] == "python" and info["pygments_lexer"] == "smolkernel" and info["codemirror_mode"] == "smolkernel"
