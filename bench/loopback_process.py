"""The loopback LLM server in a child process of its own, for the benchmarks.

A model provider runs on other machines. In the benchmark's own process the
server's request threads would share that process's interpreter lock with
the clients being timed, and its CPU would be counted as theirs. Run as a
script it serves ``--reply module:function`` (importable from ``--path``)
and prints its ``api_base``; it stops when its standard input closes.

``server_times()`` asks it, over the same pipes, how long it took to answer
each chat request since the last ask: the provider's own share of a model
call, which a benchmark subtracts to tell what the code under test added.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys


class LoopbackProcess:
    """``LoopbackLLMServer(reply, latency=..., model_id=...)`` in a child process; ``api_base`` is its URL."""

    def __init__(self, reply: str, latency: float, *, model_id: str = "loopback", path: tuple[str, ...] = ()):
        command = [sys.executable, __file__, "--reply", reply, "--latency", str(latency), "--model-id", model_id]
        for folder in path:
            command += ["--path", folder]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.api_base = self.process.stdout.readline().strip()
        if not self.api_base:
            self.close()
            raise RuntimeError(f"the loopback LLM server did not start (exit code {self.process.returncode})")

    def server_times(self) -> list[tuple[str, float]]:
        """``(user text, seconds)`` for each chat request answered since the last call.

        The user text joins the request's user messages (so a benchmark can
        tell which run made the call); the seconds run from the server reading
        the request to its answer being written: latency plus the server's own
        work and waits.
        """
        self.process.stdin.write("times\n")
        self.process.stdin.flush()
        return [(text, seconds) for text, seconds in json.loads(self.process.stdout.readline())]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> LoopbackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reply", required=True, help="module:function answering each request's JSON")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--model-id", default="loopback")
    parser.add_argument("--path", action="append", default=[], help="folder to import --reply from")
    args = parser.parse_args()
    sys.path[:0] = args.path
    from smolkernel.testing import LoopbackLLMServer

    module, _, name = args.reply.partition(":")
    reply = getattr(importlib.import_module(module), name)
    with LoopbackLLMServer(reply, latency=args.latency, model_id=args.model_id) as server:
        print(server.api_base, flush=True)
        seen, waiting = 0, []  # requests told about so far; those still unanswered at the last ask
        for line in sys.stdin:  # "times": the chat requests answered since the last ask
            if line.strip() == "times":
                requests = server.chat_requests
                fresh, seen = waiting + requests[seen:], len(requests)
                waiting = [r for r in fresh if r.answered is None and not r.fault]
                times = [(_user_text(r.messages), r.seconds) for r in fresh if r.seconds is not None]
                print(json.dumps(times), flush=True)


def _user_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m.get("role") == "user" and isinstance(m.get("content"), str))


if __name__ == "__main__":
    main()
