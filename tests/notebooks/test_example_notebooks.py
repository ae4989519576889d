"""Every notebook in notebooks/ is executed headless (nbclient, through `smolkernel report`), and its outputs checked.

The SmolKernel kernelspec is installed into a temporary prefix found through
JUPYTER_PATH, so the user's own kernelspecs play no part.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from smolkernel.report import run_notebook_report

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture(scope="module")
def kernelspecs(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run([sys.executable, "-m", "smolkernel.cli", "install", "--prefix", str(prefix)], check=True, capture_output=True)
    return prefix / "share" / "jupyter"


@pytest.fixture
def jupyter_path(kernelspecs, monkeypatch) -> None:
    monkeypatch.setenv("JUPYTER_PATH", str(kernelspecs))
    monkeypatch.delenv("SMOLKERNEL_MODEL", raising=False)
    monkeypatch.delenv("SMOLKERNEL_RECORD", raising=False)


def execute(name: str, tmp_path: Path, **options) -> list:
    result = run_notebook_report(NOTEBOOKS / name, tmp_path / name.replace(".ipynb", ".html"), timeout=180, progress=lambda _: None, **options)
    assert result.failed_cell is None, f"{name}: cell {result.failed_cell} failed: {result.error}"
    html = result.html_path.read_text()
    assert not re.search(r"""(src|href)=["']https?://|import\(["']https?://""", html), "the report loads something from the network"
    return nbformat.read(result.notebook_path, as_version=4).cells


def texts(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def result_of(cell) -> str:
    found = [o for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"]
    assert found, f"no result in cell: {texts(cell)[:300]}"
    return found[-1]["data"]["text/plain"]


def test_every_notebook_is_covered():
    assert set(ALL) == {"quickstart.ipynb", "magics.ipynb", "tools.ipynb", "multi_agent.ipynb", "tools_and_sharing.ipynb", "batch.ipynb"}
    for name in ALL:
        first = nbformat.read(NOTEBOOKS / name, as_version=4).cells[0]
        assert first.cell_type == "markdown" and "offline" in first.source.lower(), name


def test_quickstart(tmp_path, jupyter_path):
    cells = execute("quickstart.ipynb", tmp_path)
    assert result_of(cells[2]) == "[2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]"
    # the report keeps the run view's static snapshot (nbclient renders no widgets itself)
    assert any("smolkernel-run-view" in o.get("data", {}).get("text/html", "") for o in cells[2].outputs)
    table = [o for o in cells[5].outputs if o.output_type == "execute_result"][0]
    assert "<table" in table.data["text/html"] and "87.8" in table.data["text/plain"]
    assert result_of(cells[7]) == "The 15 primes sum to 328; those above 30 are [31, 37, 41, 43, 47]."
    assert texts(cells[9]).strip() == "15 47 [54.5, 68.0, 87.8]"
    assert "3/5" in texts(cells[10])  # memory window
    assert "total:" in texts(cells[11])  # usage


def test_tools(tmp_path, jupyter_path):
    cells = execute("tools.ipynb", tmp_path)
    top = result_of(cells[3])
    assert top.splitlines()[1].split()[1:3] == ["Linus", "FI"]
    assert "no such table: customer" in texts(cells[3])  # the mistake the agent recovered from
    assert result_of(cells[4]) == "Linus placed 16 orders."
    assert "4 queries ran against the database" in texts(cells[6])


def test_multi_agent(tmp_path, jupyter_path):
    cells = execute("multi_agent.ipynb", tmp_path)
    assert "solar capacity grew 78% and wind 26%" in texts(cells[4])
    assert result_of(cells[4]) == "(True, 3, ['researcher', 'analyst'])"


def test_batch(tmp_path, jupyter_path):
    cells = execute("batch.ipynb", tmp_path)
    assert "200/200 (200 done, 0 failed)" in texts(cells[6])  # the BatchView's snapshot
    assert "200 answered, accuracy 100%" in texts(cells[7])
    assert "120 tasks: 120 succeeded, 0 failed" in texts(cells[9])
    assert "200 tasks: 200 succeeded, 0 failed | model calls in this run: 80" in texts(cells[10])  # only the 80 not yet done
    assert "lines in the file: 200" in texts(cells[10])


def test_magics_report(tmp_path, jupyter_path):
    """tests/magics/test_magics_notebooks.py checks every output; here: it also runs as a report."""
    cells = execute("magics.ipynb", tmp_path)
    assert "North has the highest revenue" in texts(cells[9])
    html = (tmp_path / "magics.html").read_text()
    assert "groupby" in html and "North has the highest revenue" in html


def test_replaying_a_cassette_reproduces_the_notebook(tmp_path, jupyter_path):
    cassette = tmp_path / "quickstart.jsonl"
    recorded = execute("quickstart.ipynb", tmp_path / "rec", record=cassette)
    assert len(cassette.read_text().splitlines()) == 5
    replayed = execute("quickstart.ipynb", tmp_path / "replay", model=f"replay:{cassette}")
    for before, after in zip(recorded, replayed):
        if before.cell_type == "code" and any(o.output_type == "execute_result" for o in before.outputs):
            assert result_of(after) == result_of(before)
    assert "replay" not in texts(recorded[1]) and "already configured" in texts(replayed[1])


@pytest.mark.slow
def test_tools_and_sharing(tmp_path, jupyter_path):
    cells = execute("tools_and_sharing.ipynb", tmp_path)
    assert "tools added from MCP: get_current_time, convert_time" in texts(cells[3])
    assert result_of(cells[4]) == "Noon UTC is 21:00 in Tokyo and 17:30 in Kolkata."
    assert "red_square(size: float = 8)" in texts(cells[6])
    answer = result_of(cells[7])
    assert answer.startswith("Here is a 24-pixel red square (<image/")
    shown = json.dumps([o.get("data", {}) for o in cells[7].outputs])
    assert "base64," in shown or '"image/png"' in shown, "the app's image is shown in the cell"
    saved = texts(cells[9])
    assert "['agent.yaml', 'requirements.txt']" in saved
    assert "- mcp:" in saved and "mcp-server-time" in saved and "api_name: /red_square" in saved
    assert "tools of the loaded agent: convert_time, final_answer, get_current_time, red_square" in saved
    assert "its answer: 15:00" in saved
