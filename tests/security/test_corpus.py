"""The hostile corpus against ``sandbox`` (nothing may reach the host) and ``kernel``/``local`` (recorded).

Each executor runs the corpus in a disposable host subprocess (``corpus_host.py``);
a snippet that kills that host is recorded as such and the host is restarted
for the remaining snippets. ``kernel`` and ``local`` are not security
boundaries: for them the test only requires that the runs finish and prints
a table of what worked (``pytest -s`` shows it; it is also written to
``build/security-<executor>.md``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from needs import needs_command

from corpus import CORPUS

HERE = Path(__file__).parent
REPORT_DIR = HERE.parent.parent / "build"


def run_corpus(kind: str) -> list[dict]:
    """Run the corpus through ``kind`` in host subprocesses; return one record per snippet."""
    visible = HERE / f".scratch-{uuid.uuid4().hex[:8]}"  # inside the project: the sandbox sees it read-only
    visible.mkdir()
    private = Path(tempfile.mkdtemp(prefix="smolkernel-corpus-"))
    results = private / "results.jsonl"
    try:
        for _attempt in range(8):
            done = _records(results)
            finished = {r["name"] for r in done.values() if not r.get("started")}
            killers = {name for name, r in done.items() if r.get("started")}
            skip = ",".join(finished | killers)
            host = subprocess.run([sys.executable, str(HERE / "corpus_host.py"), kind, str(results), str(visible), str(private), skip],
                                  capture_output=True, text=True, timeout=300)
            if host.returncode == 0:
                break
        records = _records(results)
        for record in records.values():
            if record.get("started"):  # the host died while running it
                record.update(worked_inside=True, host_effects=["host process killed"], host_alive=False, error=[])
        return [records[s.name] for s in CORPUS if s.name in records]
    finally:
        shutil.rmtree(visible, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


def _records(path: Path) -> dict[str, dict]:
    records: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            records[record["name"]] = record
    return records


def table(kind: str, records: list[dict]) -> str:
    lines = [f"## {kind}: {len(records)} snippets", "", "| snippet | worked inside | effect on host | error |", "|---|---|---|---|"]
    for r in records:
        error = " ".join(r.get("error") or [])[:80].replace("|", "/")
        lines.append(f"| {r['name']} | {'yes' if r['worked_inside'] else 'no'} | {', '.join(r['host_effects']) or '-'} | {error} |")
    text = "\n".join(lines)
    REPORT_DIR.mkdir(exist_ok=True)
    (REPORT_DIR / f"security-{kind}.md").write_text(text + "\n")
    print("\n" + text)
    return text


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30 and len({s.name for s in CORPUS}) == len(CORPUS)


@pytest.mark.sandbox
@needs_command("bwrap", "bubblewrap")
def test_sandbox_contains_every_snippet() -> None:
    records = run_corpus("sandbox")
    table("sandbox", records)
    assert len(records) == len(CORPUS)
    assert all(r.get("host_alive") for r in records), [r["name"] for r in records if not r.get("host_alive")]
    breaches = {r["name"]: r["host_effects"] for r in records if r["host_effects"]}
    assert breaches == {}
    leaks = {r["name"] for r in records if r["worked_inside"]} & {"read_secret_file", "net_loopback", "net_outside", "drive_other_kernel", "own_connection_file", "write_visible_file"}
    assert leaks == set()


BOUNDARY_LEAKS = {"read_secret_file", "net_loopback", "net_outside", "drive_other_kernel", "own_connection_file",
                  "write_visible_file"}
"""Snippets that must not even work inside a boundary executor."""


def assert_contained(kind: str, records: list[dict]) -> None:
    """Every snippet ran, the host survived each one, nothing reached the host, no leak worked inside."""
    assert len(records) == len(CORPUS)
    assert all(r.get("host_alive") for r in records), [r["name"] for r in records if not r.get("host_alive")]
    breaches = {r["name"]: r["host_effects"] for r in records if r["host_effects"]}
    assert breaches == {}
    assert {r["name"] for r in records if r["worked_inside"]} & BOUNDARY_LEAKS == set()


@pytest.mark.slow
def test_docker_contains_every_snippet(docker_image: str) -> None:
    """The corpus in a real container (real engine, the image of ``smolkernel image build``)."""
    records = run_corpus("docker")
    table("docker", records)
    assert_contained("docker", records)


@pytest.mark.slow
def test_wasm_contains_every_snippet() -> None:
    """The corpus in real Pyodide under real Deno (the runtime ``make wasm`` installs)."""
    from needs import missing

    from smolkernel.exceptions import ConfigurationError
    from smolkernel.executors.wasm import find_runtime

    try:
        find_runtime()
    except ConfigurationError as exc:
        missing(str(exc))
    records = run_corpus("wasm")
    table("wasm", records)
    assert_contained("wasm", records)


def test_kernel_host_survives_and_reports() -> None:
    records = run_corpus("kernel")
    table("kernel", records)
    expected = [s.name for s in CORPUS if not s.sandbox_only]
    assert [r["name"] for r in records] == expected
    survived = {r["name"] for r in records if r.get("host_alive")}
    assert set(expected) - survived <= {"kill_parent"}


def test_local_host_survives_and_reports() -> None:
    records = run_corpus("local")
    table("local", records)
    expected = [s.name for s in CORPUS if s.local and not s.sandbox_only]
    assert [r["name"] for r in records] == expected and all(r.get("host_alive") for r in records)
