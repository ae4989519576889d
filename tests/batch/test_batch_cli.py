"""``smolkernel batch`` as a user runs it: a real process, a spec file, JSON-lines in and out."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml
from batch_helpers import loopback_spec

SMOLKERNEL = [sys.executable, "-m", "smolkernel.cli"]


def _write(tmp_path, server, lines):
    agent = tmp_path / "agent.yaml"
    agent.write_text(yaml.safe_dump(loopback_spec(server)))
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return agent, inputs


def test_batch_command_writes_results_and_a_summary(server, tmp_path):
    agent, inputs = _write(tmp_path, server, [{"text": "ab"}, {"text": "abcd"}])
    out = tmp_path / "out.jsonl"
    done = subprocess.run([*SMOLKERNEL, "batch", str(inputs), "--agent", str(agent), "--task", "{text}", "-o", str(out), "--concurrency", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("2 tasks: 2 succeeded, 0 failed")
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert {json.loads(line)["output"] for line in out.read_text().splitlines()} == {2, 4}


def test_any_failure_gives_a_nonzero_exit_and_resume_skips_what_is_done(server, tmp_path):
    agent, inputs = _write(tmp_path, server, ["abc", "please fail"])
    out = tmp_path / "out.jsonl"
    command = [*SMOLKERNEL, "batch", str(inputs), "--agent", str(agent), "-o", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1
    assert "1 succeeded, 1 failed" in first.stdout and "input 1 failed" in first.stderr
    calls = len(server.chat_requests)
    again = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and len(server.chat_requests) == calls  # nothing ran again
    assert len(out.read_text().splitlines()) == 2


def test_bad_input_file_is_a_clear_error(tmp_path, server):
    agent, inputs = _write(tmp_path, server, ["a"])
    inputs.write_text('"a"\n{not json\n')
    done = subprocess.run([*SMOLKERNEL, "batch", str(inputs), "--agent", str(agent), "-o", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "line 2: not valid JSON" in done.stderr
    missing = subprocess.run([*SMOLKERNEL, "batch", str(tmp_path / "nope.jsonl"), "--agent", str(agent), "-o", str(tmp_path / "o.jsonl")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr
