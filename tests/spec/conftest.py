"""Fixtures for the spec tests: a tool module on sys.path, written for each test."""

import textwrap

import pytest

TOOL_MODULE = '''
from smolkernel import Tool, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


class Shout(Tool):
    name = "shout"
    description = "Upper-case a text."
    inputs = {"text": {"type": "string", "description": "what to shout"}}
    output_type = "string"

    def forward(self, text: str) -> str:
        return text.upper()


BOTH = [add, Shout()]
'''


@pytest.fixture
def tool_module(tmp_path, monkeypatch):
    """An importable module ``spec_test_tools_<n>`` with ``add``, ``Shout`` and ``BOTH``."""
    name = f"spec_test_tools_{abs(hash(str(tmp_path))) % 10**8}"
    folder = tmp_path / "pkgroot"
    folder.mkdir()
    (folder / f"{name}.py").write_text(textwrap.dedent(TOOL_MODULE))
    monkeypatch.syspath_prepend(str(folder))
    return name


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> path of a file in tmp_path with dedented text."""

    def _write(name: str, text: str):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return _write

