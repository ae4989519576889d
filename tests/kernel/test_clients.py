"""SmolKernel under the tools that send it code: papermill, jupyter console (in a pseudo-terminal), nbclient.

Each tool runs for real, against the SmolKernel kernelspec installed into a
temporary prefix found through JUPYTER_PATH; the model is a ScriptedModel
reading replies from a file beside the notebook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from harness import code_reply, kernel_spec

PYTHON_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory) -> dict[str, str]:
    """An environment whose JUPYTER_PATH holds a freshly installed SmolKernel kernelspec."""
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run([sys.executable, "-m", "smolkernel.cli", "install", "--prefix", str(prefix)], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SMOLKERNEL_MODEL", "SMOLKERNEL_RECORD")}
    env.update(JUPYTER_PATH=str(prefix / "share" / "jupyter"), LITELLM_LOCAL_MODEL_COST_MAP="True")
    env["PATH"] = f"{PYTHON_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _notebook(path: Path, *cells: tuple[str, list[str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "smolkernel", "display_name": "SmolKernel (agent)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells]
    nbformat.write(nb, path)
    return path


def _result(cell) -> str:
    found = [o for o in cell.outputs if o.output_type == "execute_result"]
    assert found, cell.outputs
    return found[-1]["data"]["text/plain"]


@pytest.mark.slow
def test_papermill_parameters_apply_and_paths_resolve_beside_the_notebook(tmp_path, jupyter_env):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "replies.json").write_text(json.dumps([code_reply("final_answer(n * 6)")]))
    _notebook(
        folder / "nb.ipynb",
        ("n = 3", ["parameters"]),
        ("%model scripted:replies.json", []),
        ("Multiply n by six", []),
        ("%%python\nn", []),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", "../project/nb.ipynb", "out.ipynb", "-k", "smolkernel", "-p", "n", "7", "--no-progress-bar"],
        cwd=elsewhere, env=jupyter_env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    cells = nbformat.read(elsewhere / "out.ipynb", as_version=4).cells
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and not injected[0].outputs  # ran as Python: no agent output
    assert _result(cells[-2]) == "42" and _result(cells[-1]) == "7"


def _max_steps_notebook(tmp_path: Path) -> Path:
    (tmp_path / "replies.json").write_text(json.dumps([code_reply("print('thinking')")]))
    return _notebook(
        tmp_path / "steps.ipynb",
        ("%model scripted:replies.json", []),
        ("Never finish", []),
        ("%%python\n'went on'", []),
    )


def _client(nb, tmp_path: Path, **options):
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    class OneStepKernel(KernelManager):
        @property
        def kernel_spec(self):  # a SmolKernel allowed one step per task
            return kernel_spec(extra_args=("--SmolKernel.max_steps=1",))

    return NotebookClient(nb, km=OneStepKernel(), timeout=120, resources={"metadata": {"path": str(tmp_path)}}, **options)


@pytest.mark.slow
def test_nbclient_max_steps_fails_the_cell_and_allow_errors_goes_on(tmp_path):
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(_max_steps_notebook(tmp_path), as_version=4)
    with pytest.raises(CellExecutionError, match="MaxStepsReached"):
        _client(nb, tmp_path).execute()
    assert not nb.cells[2].outputs  # stopped at the failed task
    nb = nbformat.read(tmp_path / "steps.ipynb", as_version=4)
    _client(nb, tmp_path, allow_errors=True).execute()
    assert any(o.output_type == "error" and o.ename == "MaxStepsReached" for o in nb.cells[1].outputs)
    assert _result(nb.cells[2]) == "'went on'"


@pytest.mark.slow
def test_console_task_interrupt_and_exit(tmp_path, jupyter_env):
    pexpect = pytest.importorskip("pexpect")
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([code_reply("print('working')\nfinal_answer(6 * 7)"), code_reply("import time\ntime.sleep(120)")]))
    env = dict(jupyter_env, SMOLKERNEL_MODEL=f"scripted:{replies}", PYDEVD_DISABLE_FILE_VALIDATION="1")
    argv = ["console", "--kernel", "smolkernel", "--ZMQTerminalInteractiveShell.simple_prompt=True"]
    child = pexpect.spawn(str(PYTHON_BIN / "jupyter"), argv, env=env, encoding="utf-8", timeout=90, cwd=str(tmp_path))
    try:
        child.expect(r"In \[1\]: ")
        child.sendline("What is six times seven?")
        child.expect(r"\[step 1\] code:")  # text progress: a terminal renders no widgets
        child.expect(r"Out\[1\]: 42")
        child.expect(r"In \[2\]: ")
        child.sendline("Wait for a long time")
        child.expect(r"time\.sleep\(120\)")
        time.sleep(0.5)
        began = time.monotonic()
        child.sendintr()
        child.expect("KeyboardInterrupt")
        assert time.monotonic() - began < 30
        child.expect(r"In \[\d+\]: ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0 or child.signalstatus is None
