"""Headless: a notebook whose kernel is ``smolkernel`` runs under nbclient and ``jupyter execute``.

The kernelspec is installed into a temporary prefix found through
``JUPYTER_PATH``; the user's own kernelspecs are never used.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from harness import code_reply
from nbclient import NotebookClient

from smolkernel.cli import main
from smolkernel.testing import LoopbackLLMServer


@pytest.fixture
def jupyter_path(tmp_path, monkeypatch):
    """A prefix with the smolkernel kernelspec, on JUPYTER_PATH."""
    prefix = tmp_path / "prefix"
    assert main(["install", "--prefix", str(prefix)]) == 0
    path = str(prefix / "share" / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", path)
    return path


def _notebook(api_base: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "smolkernel", "display_name": "SmolKernel (agent)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(f"%model openai/test --api-base {api_base}"),
        nbformat.v4.new_code_cell("Make a list called squares of the first four squares"),
        nbformat.v4.new_code_cell("%%python\nprint(len(squares))"),
        nbformat.v4.new_code_cell("Add up the squares"),
        nbformat.v4.new_code_cell("%usage"),
    ]
    return nb


REPLIES = [
    code_reply("squares = [n * n for n in range(1, 5)]\nfinal_answer(squares)"),
    code_reply("final_answer(sum(squares))"),
]


def test_notebook_runs_under_nbclient(jupyter_path):
    with LoopbackLLMServer(REPLIES) as server:
        nb = _notebook(server.api_base)
        NotebookClient(nb, timeout=120, startup_timeout=60).execute()
    outputs = [cell.outputs for cell in nb.cells]
    results = [o for o in outputs[1] if o.output_type == "execute_result"]
    assert results and results[0].data["text/plain"] == "[1, 4, 9, 16]"
    assert any("4" in o.get("text", "") for o in outputs[2])
    assert [o for o in outputs[3] if o.output_type == "execute_result"][0].data["text/plain"] == "30"
    assert [cell.execution_count for cell in nb.cells] == [1, 2, 3, 4, 5]


def test_jupyter_execute_runs_the_notebook(jupyter_path, tmp_path):
    with LoopbackLLMServer(REPLIES) as server:
        path = tmp_path / "tasks.ipynb"
        nbformat.write(_notebook(server.api_base), path)
        env = {**os.environ, "JUPYTER_PATH": jupyter_path}
        done = subprocess.run(
            [sys.executable, "-m", "jupyter", "execute", "--inplace", str(path)], env=env, capture_output=True, text=True, timeout=180
        )
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(path, as_version=4)
    assert [o for o in nb.cells[3].outputs if o.output_type == "execute_result"][0].data["text/plain"] == "30"
