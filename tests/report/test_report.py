"""`smolkernel report` on real notebooks, executed by nbclient in a real python3 kernel."""

import re
import subprocess
import sys

import nbformat
import pytest

from smolkernel.exceptions import ConfigurationError
from smolkernel.report import run_notebook_report


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Weekly figures")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_report_writes_html_and_executed_notebook_offline(tmp_path):
    source = notebook(tmp_path / "weekly.ipynb", "total = sum(range(10))\ntotal", "from IPython.display import HTML\nHTML('<table><tr><td>cell-two-table</td></tr></table>')")
    before = source.read_text()
    lines = []
    result = run_notebook_report(source, tmp_path / "out" / "weekly.html", progress=lines.append)
    assert result.failed_cell is None and result.cells == 2
    assert [re.sub(r"\(\d+\.\d s\)", "(T)", line) for line in lines] == ["In [1] (code cell 1 of 2): ok (T)", "In [2] (code cell 2 of 2): ok (T)"]
    html = result.html_path.read_text()
    assert "cell-two-table" in html and ">45<" in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "import(\"http" not in html
    executed = nbformat.read(result.notebook_path, as_version=4)
    assert executed.cells[1].outputs[0]["data"]["text/plain"] == "45"
    assert source.read_text() == before  # input untouched


def test_failing_cell_is_named_and_exit_code_is_non_zero(tmp_path):
    source = notebook(tmp_path / "bad.ipynb", "x = 1", "1 / 0", "y = 2")
    proc = subprocess.run([sys.executable, "-m", "smolkernel.report", str(source), "-o", str(tmp_path / "bad-report.html")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    # named as the HTML shows it (In [2]), not by its index among all cells (markdown included)
    assert "In [2] (code cell 2 of 3) failed: ZeroDivisionError" in proc.stderr
    assert "In [1] (code cell 1 of 3): ok" in proc.stderr
    assert (tmp_path / "bad-report.html").exists() and (tmp_path / "bad-report.ipynb").exists()


def test_allow_errors_keeps_going(tmp_path):
    source = notebook(tmp_path / "bad.ipynb", "1 / 0", "z = 'reached'\nz")
    result = run_notebook_report(source, tmp_path / "r.html", allow_errors=True, progress=lambda _: None)
    assert result.failed_cell == 1 and result.failed_label == "In [1] (code cell 1 of 2)"
    executed = nbformat.read(result.notebook_path, as_version=4)
    assert executed.cells[2].outputs[0]["data"]["text/plain"] == "'reached'"


def test_never_overwrites_the_input(tmp_path):
    source = notebook(tmp_path / "same.ipynb", "1")
    with pytest.raises(ConfigurationError, match="overwrite the input"):
        run_notebook_report(source, tmp_path / "same.html")


def test_no_kernel_is_left_running(tmp_path):
    import os
    import time

    source = notebook(tmp_path / "pid.ipynb", "import os\nos.getpid()")
    result = run_notebook_report(source, tmp_path / "pid-report.html", progress=lambda _: None)
    pid = int(nbformat.read(result.notebook_path, as_version=4).cells[1].outputs[0]["data"]["text/plain"])
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}")
