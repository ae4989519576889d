"""Headless reports: execute a notebook with nbclient, write a self-contained HTML report.

``smolkernel report NOTEBOOK -o OUT.html`` (or ``run_notebook_report``)
executes the notebook, prints a progress line per cell, and writes two files
side by side: ``OUT.ipynb`` (the executed notebook, widget state included)
and ``OUT.html`` (the report). The input notebook is never overwritten.

The HTML needs no network and no JavaScript: every URL nbconvert would load
from a CDN is blanked, and widget outputs are shown through the static
``text/html`` snapshot that smolkernel's views put beside the widget view.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import ConfigurationError

__all__ = ["ReportResult", "run_notebook_report", "add_report_command", "main"]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@dataclass
class ReportResult:
    """What a report run produced."""

    html_path: Path
    """The HTML report."""
    notebook_path: Path
    """The executed notebook, beside the report."""
    cells: int
    """Code cells executed."""
    duration: float
    """Seconds the execution took."""
    failed_cell: int | None = None
    """Index in ``nb.cells`` (markdown included, from 0) of the first cell that raised."""
    failed_label: str | None = None
    """That cell as the user sees it: ``In [3]`` (its execution count) and its place among the code cells."""
    error: str | None = None
    """The failing cell's error, in one line."""


def run_notebook_report(
    notebook: str | Path,
    output: str | Path | None = None,
    *,
    kernel_name: str | None = None,
    timeout: float = 600,
    model: str | None = None,
    record: str | Path | None = None,
    allow_errors: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Execute ``notebook`` and write the HTML report and the executed notebook.

    Args:
        notebook: the input notebook (read, never written).
        output: the report's path (``.html``); default ``<name>.report.html``
            beside the input. The executed notebook goes to the same path with
            ``.ipynb``.
        kernel_name: run with this kernel instead of the notebook's own.
        timeout: seconds a cell may run.
        model: a model spec for the notebook's agents (sets ``SMOLKERNEL_MODEL``
            in the kernel's environment).
        record: a cassette file recording every model call (``SMOLKERNEL_RECORD``).
        allow_errors: keep going after a failing cell.
        progress: called with one line per cell (default: print to stderr).

    Returns:
        A ReportResult; ``failed_cell`` is set when a cell raised.

    Raises:
        ConfigurationError: the notebook is missing, or the output would
            overwrite it.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError

    source = Path(notebook).resolve()
    html_path, executed_path = _output_paths(source, output)
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    nb = nbformat.read(source, as_version=4)
    result = ReportResult(html_path=html_path, notebook_path=executed_path, cells=0, duration=0.0)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smolkernel-report-") as private:
        os.chmod(private, 0o700)
        client = _notebook_client(nb, kernel_name, private, source.parent, timeout=timeout, allow_errors=allow_errors)
        result.cells = _report_progress(client, nb, say)
        try:
            client.execute(env=_kernel_env(model, record))
        except CellExecutionError as exc:
            result.failed_cell, result.error = _first_error(nb)
            result.error = result.error or str(exc).strip().splitlines()[-1]
            result.failed_label = cell_label(nb, result.failed_cell)
        finally:
            if client.km.has_kernel:  # nbclient leaves a kernel manager it was given running
                client.km.shutdown_kernel()
    result.duration = time.perf_counter() - began
    if allow_errors and result.failed_cell is None:
        result.failed_cell, result.error = _first_error(nb)
        result.failed_label = cell_label(nb, result.failed_cell)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed_path)
    html_path.write_text(to_offline_html(nb), encoding="utf-8")
    return result


def _output_paths(source: Path, output: str | Path | None) -> tuple[Path, Path]:
    """The report's and the executed notebook's paths; never the input's."""
    if not source.is_file():
        raise ConfigurationError(f"notebook {source} does not exist")
    html_path = Path(output).resolve() if output else source.with_name(f"{source.stem}.report.html")
    if html_path.suffix != ".html":
        html_path = html_path.with_suffix(".html")
    executed_path = html_path.with_suffix(".ipynb")
    if source in (html_path, executed_path):
        raise ConfigurationError(f"the report would overwrite the input notebook {source.name}; choose another -o path")
    return html_path, executed_path


def _notebook_client(nb: Any, kernel_name: str | None, private: str, cwd: Path, *, timeout: float, allow_errors: bool) -> Any:
    """An nbclient client whose kernel talks over unix sockets in ``private``.

    IPC rather than plain TCP on loopback (ipykernel warns about that on every
    start); the connection file stays in the same private folder.
    """
    from jupyter_client import KernelManager
    from nbclient import NotebookClient

    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    manager = KernelManager(
        kernel_name=name, transport="ipc", ip=os.path.join(private, "kernel"),
        connection_file=os.path.join(private, "connection.json"),
    )
    return NotebookClient(nb, km=manager, timeout=timeout, allow_errors=allow_errors, store_widget_state=True,
                          resources={"metadata": {"path": str(cwd)}})


def _report_progress(client: Any, nb: Any, say: Callable[[str], None]) -> int:
    """Hook a progress line per executed cell into ``client``; return the number of code cells."""
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    started: dict[int, float] = {}

    def on_start(cell: Any, cell_index: int) -> None:
        started[cell_index] = time.perf_counter()

    def on_done(cell: Any, cell_index: int, execute_reply: Any) -> None:
        took = time.perf_counter() - started.get(cell_index, time.perf_counter())
        status = "error" if any(o.get("output_type") == "error" for o in cell.get("outputs", [])) else "ok"
        say(f"{cell_label(nb, cell_index)}: {status} ({took:.1f} s)")

    client.on_cell_start = on_start
    client.on_cell_executed = on_done
    return len(code_cells)


def _kernel_env(model: str | None, record: str | Path | None) -> dict[str, str]:
    env = dict(os.environ)
    # nbclient renders no widgets, but it stores their state and the HTML keeps each
    # view's static snapshot: a SmolKernel shows runs as widgets here, not as text.
    env.setdefault("SMOLKERNEL_WIDGETS", "always")
    if model:
        env["SMOLKERNEL_MODEL"] = model
    if record:
        env["SMOLKERNEL_RECORD"] = str(Path(record).resolve())
    return env


def cell_label(nb: Any, index: int | None) -> str | None:
    """Name the cell at ``index`` the way the user sees it: ``In [3] (code cell 4 of 6)``.

    ``In [N]`` is the execution count the HTML and JupyterLab show; a cell
    that did not run is named by its place among the code cells only.
    """
    if index is None:
        return None
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    place = f"code cell {code_cells.index(index) + 1} of {len(code_cells)}" if index in code_cells else f"cell {index + 1}"
    count = nb.cells[index].get("execution_count")
    return f"In [{count}] ({place})" if count is not None else place


def _first_error(nb: Any) -> tuple[int | None, str | None]:
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                return index, f"{out.get('ename')}: {out.get('evalue')}"
    return None, None


def to_offline_html(nb: Any) -> str:
    """Render ``nb`` to HTML that loads nothing from the network.

    Widget views are replaced by the static snapshot that accompanies them.
    """
    import copy

    from nbconvert import HTMLExporter

    static = copy.deepcopy(nb)
    static.metadata.pop("widgets", None)
    for cell in static.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data")
            if data and WIDGET_MIME in data and len(data) > 1:
                del data[WIDGET_MIME]
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    for trait in ("mathjax_url", "require_js_url", "jquery_url", "mermaid_js_url", "mermaid_layout_elk_js_url", "widget_renderer_url", "jupyter_widgets_base_url"):
        if exporter.has_trait(trait):
            setattr(exporter, trait, "")
    body, _ = exporter.from_notebook_node(static)
    return body


def add_report_command(subparsers: Any) -> None:
    """Register ``report`` on an argparse subparsers object (``smolkernel report``)."""
    parser = subparsers.add_parser("report", help="execute a notebook and write a self-contained HTML report")
    _add_arguments(parser)
    parser.set_defaults(handler=_handle)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", help="the notebook to execute (never overwritten)")
    parser.add_argument("-o", "--output", help="the report's path (default: NOTEBOOK.report.html); OUT.ipynb goes beside it")
    parser.add_argument("--kernel", dest="kernel_name", help="kernel to use instead of the notebook's own")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a cell may run (default 600)")
    parser.add_argument("--model", help="model spec for the notebook's agents (sets SMOLKERNEL_MODEL)")
    parser.add_argument("--record", help="record every model call to this cassette (JSON lines)")
    parser.add_argument("--allow-errors", action="store_true", help="keep going after a failing cell")


def _handle(args: argparse.Namespace) -> int:
    try:
        result = run_notebook_report(
            args.notebook, args.output, kernel_name=args.kernel_name, timeout=args.timeout,
            model=args.model, record=args.record, allow_errors=args.allow_errors,
        )
    except ConfigurationError as exc:
        print(f"smolkernel report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {result.html_path}\nexecuted notebook: {result.notebook_path}")
    if result.failed_cell is not None and not args.allow_errors:
        print(f"smolkernel report: {result.failed_label} failed: {result.error} (use --allow-errors to keep going)", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m smolkernel.report NOTEBOOK ...``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="smolkernel report", description=__doc__.splitlines()[0])
    _add_arguments(parser)
    return _handle(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
