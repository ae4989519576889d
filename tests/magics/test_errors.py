"""Bad input gives one short UsageError naming the problem and the fix; the shell keeps working."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from magic_helpers import code_reply, configure, free_port, run


def assert_short_error(shell, capsys, cell: str, *expected: str) -> str:
    """Run ``cell``; check it failed with a one-line UsageError containing ``expected``, and no traceback."""
    capsys.readouterr()
    result = run(shell, cell)
    captured = capsys.readouterr()
    error = result.error_in_exec or result.error_before_exec
    assert type(error) is UsageError, error
    message = str(error)
    for text in expected:
        assert text in message
    assert "Traceback" not in captured.out + captured.err
    assert captured.err.strip().splitlines() == [f"UsageError: {message}"]
    assert run(shell, "1 + 1").result == 2  # the shell keeps working
    return message


def test_no_model_configured(shell, capsys):
    assert_short_error(shell, capsys, "%%agent\nanything", "no model is configured", "%agent config model=")


def test_unknown_option(shell, capsys, loopback):
    configure(shell, loopback([]))
    assert_short_error(shell, capsys, "%%agent --colour red\nanything", "unrecognized arguments: --colour", "%%agent?")
    assert_short_error(shell, capsys, "%agent --colour red do it", "unrecognized arguments: --colour", "%agent?")


def test_unknown_setting_and_bad_values(shell, capsys):
    assert_short_error(shell, capsys, "%agent config colour=red", "unknown setting 'colour'", "max_steps")
    assert_short_error(shell, capsys, "%agent config max_steps=many", "max_steps must be a whole number")
    assert_short_error(shell, capsys, "%agent config executor=cloud", "unknown executor 'cloud'", "local")
    assert_short_error(shell, capsys, "%%agent --kind chatty\nx", "kind must be one of code, toolcalling")


def test_unknown_tool_name(shell, capsys, loopback):
    configure(shell, loopback([]))
    run(shell, "not_a_tool = 3")
    assert_short_error(shell, capsys, "%%agent --tools search\nfind it", "unknown tool 'search'", "@tool")
    assert_short_error(shell, capsys, "%agent config tools=search", "unknown tool 'search'")
    assert_short_error(shell, capsys, "%%agent --tools not_a_tool\nx", "'not_a_tool' is a int, not a tool")


def test_missing_brace_name(shell, capsys, loopback):
    server = loopback([])
    configure(shell, server)
    assert_short_error(shell, capsys, "%%agent\nSummarize {report}", "{report}", "no variable 'report'", "{{report}}")
    assert not server.chat_requests  # nothing was sent


def test_missing_vars_name(shell, capsys, loopback):
    configure(shell, loopback([]))
    assert_short_error(shell, capsys, "%%agent --vars df\nx", "--vars names df", "not defined")


def test_unknown_model_spec(shell, capsys):
    assert_short_error(shell, capsys, "%%agent --model 'not a model!'\nx", "cannot resolve model")


def test_missing_api_key(shell, capsys, monkeypatch, loopback):
    monkeypatch.delenv("SMOLKERNEL_TEST_KEY", raising=False)
    configure(shell, loopback([]))
    assert_short_error(shell, capsys, "%%agent --api-key-env SMOLKERNEL_TEST_KEY\nx", "SMOLKERNEL_TEST_KEY is not set")


@pytest.mark.slow
def test_unreachable_model(shell, capsys):
    api_base = f"http://127.0.0.1:{free_port()}/v1"
    message = assert_short_error(
        shell, capsys, f"%%agent --model openai/nowhere --api-base {api_base}\nx", "could not be used", api_base, "--api-base"
    )
    assert len(message) < 600


def test_failed_run_does_not_break_the_next(shell, capsys, loopback):
    server = loopback([code_reply("final_answer(1)")])
    configure(shell, server)
    assert_short_error(shell, capsys, "%%agent\n{nope}", "nope")
    assert run(shell, "%%agent\nfine").result == 1


def test_unavailable_executor_is_a_short_error(shell, capsys, loopback):
    from smolkernel.executors.registry import EXECUTOR_NAMES

    configure(shell, loopback([]))
    EXECUTOR_NAMES["missing-test"] = (".no_such_module", "Nothing")
    try:
        assert_short_error(shell, capsys, "%%agent --executor missing-test\nx", "missing-test executor cannot be loaded", "--executor local")
    finally:
        del EXECUTOR_NAMES["missing-test"]
