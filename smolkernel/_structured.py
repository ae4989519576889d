"""Reading a YAML or JSON file that a user wrote, with errors that point at the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .exceptions import ConfigurationError

__all__ = ["load_structured_file"]


def load_structured_file(path: str | Path, what: str) -> Any:
    """Parse ``path`` as YAML (``.yaml``/``.yml``) or JSON (anything else).

    ``what`` names the file's role in messages ("scripted model file").

    Raises:
        ConfigurationError: the file cannot be read, or does not parse; the
            message names the file, the line and column, and the problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{what} {path} cannot be read: {exc}") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigurationError(f"{what} {path}{where} is not valid YAML: {problem}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{what} {path}:{exc.lineno}:{exc.colno} is not valid JSON: {exc.msg}") from None
