"""The magics in a real ipykernel, run headless by nbclient (as in JupyterLab or a report)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "magics.ipynb"

pytestmark = pytest.mark.slow


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Execute ``nb`` in a fresh ``python3`` ipykernel; raise on an unexpected error."""
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("SMOLKERNEL_MODEL", None)
    client = NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    return client.execute(env=env)


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a cell showed as text (streams, plain-text results, errors)."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "\n".join(parts)


def cell_starting(nb: nbformat.NotebookNode, prefix: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(prefix))


def test_magics_notebook_analyses_the_dataframe(tmp_path):
    nb = execute(nbformat.read(NOTEBOOK, as_version=4), tmp_path)

    assert "North has the highest revenue: 845.00 (42% of the total)" in text_of(cell_starting(nb, "print(headline)"))
    by_region = text_of(cell_starting(nb, "by_region"))
    assert "North    845.0" in by_region and "South    760.0" in by_region
    first_run = cell_starting(nb, "%%agent --out headline")
    results = [o for o in first_run.outputs if o.output_type == "execute_result"]
    assert results and "North has the highest revenue" in results[0].data["text/plain"]  # the cell's value
    view = [o for o in first_run.outputs if o.output_type == "display_data"]
    assert view and "groupby" in view[0].data["text/html"]  # the run view's snapshot shows the steps
    assert "'tea'" in text_of(cell_starting(nb, "%%agent --out best_product"))
    usage = text_of(cell_starting(nb, "%agent usage"))
    assert "run 2" in usage and "total" in usage  # usage accumulated over both runs


def test_errors_in_a_real_kernel_are_short_and_the_kernel_keeps_working(tmp_path):
    cells = [
        "%load_ext smolkernel",
        "%%agent\nSummarize {report}",
        "%agent config colour=red",
        "from smolkernel.testing import LoopbackLLMServer\n"
        "server = LoopbackLLMServer(['```python\\nanswer = sum(values)\\nfinal_answer(answer)\\n```']).start()\n"
        "values = [1, 2, 3]\n"
        "%agent config model=openai/loopback api_base={server.api_base}",
        "%%agent --out result\nAdd up `values`.",
        "print(answer, result)\nserver.close()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index in (1, 2):
        nb.cells[index].metadata["tags"] = ["raises-exception"]

    execute(nb, tmp_path)

    # The cells fail (nbclient needs their raises-exception tags) with one line on stderr, no traceback.
    for index, expected in ((1, "no variable 'report'"), (2, "unknown setting 'colour'")):
        [output] = nb.cells[index].outputs
        assert output.output_type == "stream" and output.name == "stderr"
        assert output.text.startswith("UsageError: ") and expected in output.text
        assert len(output.text.strip().splitlines()) == 1
    assert text_of(nb.cells[5]).strip() == "6 6"
