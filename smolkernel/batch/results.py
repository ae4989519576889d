"""TaskResult, BatchResult and the JSON-lines results file.

The results file is the batch's memory: one JSON object per line, appended
with a single ``write`` on a file opened in append mode as each task
finishes. The operating system keeps what was written even when the process
is killed (``kill -9``) right after; only the line being written at that
instant can be cut short, and :func:`read_results` drops such a partial
last line (and :class:`ResultsFile` trims it before appending), so a rerun
with ``resume=True`` runs exactly the inputs that have no complete line.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ..exceptions import ConfigurationError
from ..models.base import TokenUsage

__all__ = ["TaskResult", "BatchResult", "ResultsFile", "read_results", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` when JSON can hold it as it is, else its ``repr``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


@dataclass
class TaskResult:
    """The outcome of one input of a batch."""

    index: int
    """Position of the input in the batch's inputs."""
    input: Any
    """The input as given (a task string or a dict filled into the template)."""
    output: Any = None
    """The agent's final answer (its ``repr`` when JSON cannot hold it)."""
    success: bool = False
    """True when the agent ended with a final answer."""
    error: str | None = None
    """Why the task failed: the run's error, a timeout, a crashed executor..."""
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    """Tokens spent by the task's model calls (all its attempts)."""
    cost: float | None = None
    """US dollars, when the model's price is known (litellm's bundled price map)."""
    duration: float = 0.0
    """Seconds from the start of the task's first attempt to its end."""
    attempts: int = 1
    """How many times the task was run (``retries`` adds attempts after model errors)."""
    steps: int = 0
    """Action steps of the last attempt."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe form written to the results file."""
        return {
            "index": self.index,
            "input": json_safe(self.input),
            "output": json_safe(self.output),
            "success": self.success,
            "error": self.error,
            "token_usage": {"input_tokens": self.token_usage.input_tokens, "output_tokens": self.token_usage.output_tokens},
            "cost": self.cost,
            "duration": round(self.duration, 6),
            "attempts": self.attempts,
            "steps": self.steps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskResult:
        """Read back a line of the results file."""
        usage = data.get("token_usage") or {}
        return cls(
            index=int(data["index"]),
            input=data.get("input"),
            output=data.get("output"),
            success=bool(data.get("success")),
            error=data.get("error"),
            token_usage=TokenUsage(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), data.get("cost")),
            cost=data.get("cost"),
            duration=float(data.get("duration") or 0.0),
            attempts=int(data.get("attempts") or 1),
            steps=int(data.get("steps") or 0),
        )


class BatchResult(Sequence[TaskResult]):
    """Every input's TaskResult, in input order, with totals.

    A sequence: ``len(result)``, ``result[0]``, iteration. ``to_pandas()``
    gives one row per input.
    """

    def __init__(self, results: Iterable[TaskResult], *, duration: float = 0.0, results_path: str | None = None) -> None:
        self._results = sorted(results, key=lambda r: r.index)
        self.duration = duration
        """Wall-clock seconds of the batch (this run of it, when resumed)."""
        self.results_path = results_path
        """The JSON-lines file the results were written to, if any."""

    @overload
    def __getitem__(self, index: int) -> TaskResult: ...
    @overload
    def __getitem__(self, index: slice) -> list[TaskResult]: ...
    def __getitem__(self, index: int | slice) -> TaskResult | list[TaskResult]:
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    @property
    def succeeded(self) -> int:
        """How many inputs ended with an answer."""
        return sum(1 for r in self._results if r.success)

    @property
    def failed(self) -> int:
        """How many inputs failed."""
        return len(self._results) - self.succeeded

    @property
    def failures(self) -> list[TaskResult]:
        """The results that failed."""
        return [r for r in self._results if not r.success]

    @property
    def outputs(self) -> list[Any]:
        """The outputs, in input order (None for failures)."""
        return [r.output if r.success else None for r in self._results]

    @property
    def token_usage(self) -> TokenUsage:
        """Tokens of every task together."""
        return sum((r.token_usage for r in self._results), TokenUsage())

    @property
    def cost(self) -> float | None:
        """Dollars of every task whose cost is known (None when none is)."""
        known = [r.cost for r in self._results if r.cost is not None]
        return sum(known) if known else None

    def summary(self) -> str:
        """One line: counts, tokens, cost and time."""
        usage = self.token_usage
        cost = f", ${self.cost:.4f}" if self.cost is not None else ""
        return (
            f"{len(self)} tasks: {self.succeeded} succeeded, {self.failed} failed; "
            f"{usage.input_tokens} in / {usage.output_tokens} out tokens{cost}; {self.duration:.2f} s"
        )

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one row per input, indexed by ``index``.

        Raises:
            ConfigurationError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ConfigurationError("BatchResult.to_pandas() needs pandas, which is not installed: pip install pandas") from None
        rows = []
        for r in self._results:
            rows.append({
                "index": r.index, "input": r.input, "output": r.output, "success": r.success, "error": r.error,
                "input_tokens": r.token_usage.input_tokens, "output_tokens": r.token_usage.output_tokens,
                "cost": r.cost, "duration": r.duration, "attempts": r.attempts, "steps": r.steps,
            })
        columns = ["index", "input", "output", "success", "error", "input_tokens", "output_tokens", "cost", "duration", "attempts", "steps"]
        return pd.DataFrame(rows, columns=columns).set_index("index")

    def __repr__(self) -> str:
        return f"BatchResult({self.summary()})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = "".join(
            f"<tr><td>{r.index}</td><td>{'✔' if r.success else '✘'}</td><td>{html.escape(str(r.input))[:120]}</td>"
            f"<td>{html.escape(str(r.output if r.success else r.error))[:200]}</td></tr>"
            for r in self._results[:20]
        )
        more = f"<tr><td colspan=4>… {len(self) - 20} more</td></tr>" if len(self) > 20 else ""
        page = (
            f"<div class='smolkernel-batch-result'><b>{html.escape(self.summary())}</b>"
            f"<table><tr><th>#</th><th></th><th>input</th><th>output / error</th></tr>{rows}{more}</table></div>"
        )
        return {"text/plain": repr(self), "text/html": page}


def read_results(path: str | os.PathLike[str]) -> dict[int, TaskResult]:
    """The complete lines of a results file, by input index (the first line of an index wins).

    A last line without its newline (the process died while writing it) and
    lines that are not valid JSON are ignored. A missing file reads as empty.
    """
    found: dict[int, TaskResult] = {}
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return found
    for line in data.split(b"\n")[:-1]:  # the piece after the last newline is incomplete
        try:
            record = json.loads(line)
            result = TaskResult.from_dict(record)
        except (ValueError, KeyError, TypeError):
            continue
        found.setdefault(result.index, result)
    return found


class ResultsFile:
    """Appends one line per finished task; each line reaches the OS in one ``write``.

    Args:
        path: the JSON-lines file (created with its folder when missing).
        resume: keep the lines already there; otherwise start the file afresh.
    """

    def __init__(self, path: str | os.PathLike[str], *, resume: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.existing: dict[int, TaskResult] = read_results(self.path) if resume else {}
        """What an earlier run left, by index (empty without ``resume``)."""
        if resume:
            _trim_partial_line(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
        self._fd: int | None = os.open(self.path, flags, 0o644)

    def check_inputs(self, inputs: Sequence[Any]) -> None:
        """Make sure the file's lines belong to these inputs.

        Raises:
            ConfigurationError: a line's index is out of range or its input differs.
        """
        for index, result in self.existing.items():
            if index >= len(inputs) or json_safe(inputs[index]) != result.input:
                raise ConfigurationError(
                    f"{self.path} holds a result for input {index} ({result.input!r}) that is not in these inputs; "
                    "use another results file, or resume=False to overwrite it"
                )

    def write(self, result: TaskResult) -> None:
        """Append ``result`` as one line (a single ``os.write``)."""
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        line = (json.dumps(result.to_dict(), ensure_ascii=False) + "\n").encode()
        written = os.write(self._fd, line)
        while written < len(line):  # regular files write whole; be safe on odd filesystems
            written += os.write(self._fd, line[written:])

    def close(self) -> None:
        """Flush to disk and close."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _trim_partial_line(path: Path) -> None:
    """Cut a last line that has no newline, so the next append starts a fresh line."""
    try:
        with open(path, "rb+") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size == 0:
                return
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            # find the previous newline
            back = min(size, 1 << 20)
            handle.seek(size - back)
            tail = handle.read(back)
            cut = tail.rfind(b"\n")
            handle.truncate(size - back + cut + 1 if cut != -1 else (0 if back == size else size))
    except FileNotFoundError:
        return


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[Any]:
    """The JSON values of a JSON-lines file, one per non-blank line.

    Raises:
        ConfigurationError: a line is not valid JSON (its number is named).
    """
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise ConfigurationError(f"{path}, line {number}: not valid JSON ({exc})") from None
