"""Directive parsing and completion, as pure functions (no kernel)."""

from __future__ import annotations

import pytest

from smolkernel.exceptions import ConfigurationError
from smolkernel.kernel.directives import DIRECTIVES, complete_directive, help_text, parse_directive, split_options


def test_parse_line_and_cell_directives():
    assert parse_directive("%model openai/x --api-base 'http://a b'") == ("model", False, ["openai/x", "--api-base", "http://a b"], "")
    assert parse_directive("%%python\nx = 1\ny = 2") == ("python", True, [], "x = 1\ny = 2")


def test_unbalanced_quote_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="cannot read"):
        parse_directive("%model 'open")


def test_split_options_accepts_both_spellings_and_rejects_unknown():
    assert split_options("m", ["a", "--api-base=u", "--api-key-env", "K"], ("--api-base", "--api-key-env")) == (
        ["a"], {"--api-base": "u", "--api-key-env": "K"},
    )
    with pytest.raises(ConfigurationError, match="unknown option --nope"):
        split_options("m", ["--nope", "1"], ("--api-base",))
    with pytest.raises(ConfigurationError, match="needs a value"):
        split_options("m", ["--api-base"], ("--api-base",))


def test_completion_of_names_and_first_arguments():
    assert complete_directive("%ex", 3)["matches"] == ["%executor", "%export"]
    assert complete_directive("%memory s", 9)["matches"] == ["show", "size"]
    assert complete_directive("%memory ", 8)["cursor_start"] == 8
    assert complete_directive("plain task", 5) is None
    assert complete_directive("%%python\nimp", 12) is None


def test_help_covers_every_directive():
    text = help_text()
    assert all(d.name in text for d in DIRECTIVES.values())
