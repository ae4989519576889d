"""A disposable host process that runs the hostile corpus through one executor.

Run by ``test_corpus.py`` as a subprocess, so that a snippet that kills its
parent kills this process, not pytest. Each result is appended to a JSON-lines
file as soon as it is known; the driver restarts this host, skipping the
snippets already recorded, if a snippet took it down.

    python corpus_host.py EXECUTOR RESULTS.jsonl VISIBLE_DIR PRIVATE_DIR [SKIP,...]
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import CORPUS, Snippet  # noqa: E402

from smolkernel.tools import tool  # noqa: E402

SECRET = "sk-corpus-" + os.urandom(8).hex()
CALLS = {"note": 0}
BOUNDARIES = ("sandbox", "docker", "wasm")
"""Executors that are security boundaries: every snippet runs, the network-reaching ones too."""


@tool
def note(text: str) -> str:
    """Record a note in the host.

    Args:
        text: the note
    """
    CALLS["note"] += 1
    return f"noted: {text}"


class LoopbackServer:
    """A TCP server on 127.0.0.1 that counts connections (a host service the code must not reach)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def start_victim(private: Path):
    """Another kernel of the host (TCP, like a notebook's), with its connection file in the usual place."""
    from jupyter_client import KernelManager

    runtime = private / "runtime"
    runtime.mkdir(exist_ok=True)
    manager = KernelManager(connection_file=str(runtime / "kernel-victim.json"))
    manager.start_kernel(stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
    return manager


def make_executor(kind: str):
    common = {"timeout": 4}
    if kind == "local":
        from smolkernel.executors.local import LocalExecutor

        return LocalExecutor(**common)
    if kind == "docker":
        from smolkernel.executors.docker import DockerExecutor

        return DockerExecutor(**common, memory_limit_mb=1024, max_processes=64, interrupt_grace=1.0)
    if kind == "wasm":
        from smolkernel.executors.wasm import WasmExecutor

        return WasmExecutor(**common, memory_limit_mb=1024)
    limits = {"memory_limit_mb": 2048, "max_processes": 64, "cpu_seconds": 120, "interrupt_grace": 1.0}
    if kind == "sandbox":
        from smolkernel.executors.sandbox import SandboxExecutor

        return SandboxExecutor(**common, **limits)
    from smolkernel.executors.kernel import KernelExecutor

    return KernelExecutor(**common, **limits)


def host_effects(text: str, visible: Path, server: LoopbackServer, before: int) -> list[str]:
    effects = []
    if SECRET in text:
        effects.append("secret leaked")
    written = sorted(p.name for p in visible.glob("pwned-*"))
    if written:
        effects.append("host files written: " + ", ".join(written))
    if server.connections > before:
        effects.append("host loopback service reached")
    return effects


async def run_snippet(executor, snippet: Snippet, fill: dict, visible: Path, server: LoopbackServer) -> dict:
    before = server.connections
    started = time.monotonic()
    outputs = []
    for code in (snippet.code, *snippet.steps):
        result = await asyncio.wait_for(executor.run(code.format(**fill)), 60)
        outputs.append(result)
    text = "\n".join(f"{r.output}\n{r.logs}\n{r.error}" for r in outputs)
    effects = host_effects(text, visible, server, before)
    for path in visible.glob("pwned-*"):
        path.unlink()
    last = outputs[-1]
    return {
        "name": snippet.name,
        "worked_inside": "PWNED" in text,
        "host_effects": effects,
        "error": (last.error or "").strip().splitlines()[-1:] ,
        "workspace_lost": any(r.workspace_lost for r in outputs),
        "seconds": round(time.monotonic() - started, 2),
    }


async def main(kind: str, results: Path, visible: Path, private: Path, skip: set[str]) -> None:
    os.environ["SMOLKERNEL_CORPUS_API_KEY"] = SECRET
    (private / "secret.txt").write_text(SECRET)
    server = LoopbackServer()
    victim = start_victim(private) if kind != "local" else None
    fill = {"secret_file": str(private / "secret.txt"), "visible": str(visible), "port": server.port,
            "victim_glob": str(private / "runtime" / "kernel-*.json"), "private": str(private)}
    executor = make_executor(kind)
    try:
        await executor.start()
        await executor.send_tools({"note": note})
        for snippet in CORPUS:
            if snippet.name in skip or (kind == "local" and not snippet.local) or (snippet.sandbox_only and kind not in BOUNDARIES):
                continue
            with results.open("a") as out:  # recorded before running: a dead host still names its killer
                out.write(json.dumps({"name": snippet.name, "started": True}) + "\n")
            record = await run_snippet(executor, snippet, fill, visible, server)
            record["host_alive"] = True
            with results.open("a") as out:
                out.write(json.dumps(record) + "\n")
    finally:
        await executor.close()
        if victim is not None:
            victim.shutdown_kernel(now=True)


if __name__ == "__main__":
    kind, results, visible, private = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    skip = set(sys.argv[5].split(",")) if len(sys.argv) > 5 and sys.argv[5] else set()
    asyncio.run(main(kind, results, visible, private, skip))
