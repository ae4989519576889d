"""The LocalExecutor's guard rails: an AST check before running, and restricted builtins.

Trusted code only, not a security boundary. These checks stop the usual ways
in which generated code wanders into interpreter internals by accident or by
a naive escape (``().__class__.__bases__[0].__subclasses__()``, frame
walking, ``eval`` of a built string), and they turn such attempts into an
error the model can read. They cannot stop everything: allowed modules carry
references to others (``random._os``), pandas and numpy read and write
files, and code running in this process shares its memory. Use the
``sandbox`` executor for code you do not trust.

The rules (each rejection names the construct and the line):

* **Dunder names.** A dunder attribute (``x.__class__``), a bare dunder
  name (``__builtins__``), ``from module import __dunder__``, a dunder
  keyword in a ``match`` class pattern, and a string literal containing a
  dunder (which ``getattr``, ``operator.attrgetter`` or ``str.format`` could
  use) are rejected, except those in ``SAFE_DUNDERS``: ``__name__``,
  ``__qualname__``, ``__doc__``, ``__module__``, ``__init__`` (for
  ``super().__init__()``) and ``__main__`` (for ``if __name__ ==
  "__main__"``). Defining dunder methods in a class is allowed.
* **Interpreter internals.** Attributes in ``INTERNAL_ATTRIBUTES`` (frames,
  tracebacks, code objects, generator and coroutine internals).
* **getattr and friends.** ``getattr``/``setattr``/``delattr``/``hasattr``
  with a literal forbidden name are rejected before running; with a computed
  name they are checked when called (the builtins are wrapped), so
  ``getattr(obj, field)`` over ordinary fields keeps working.
* **Dynamic code and I/O builtins.** Any reference to ``eval``, ``exec``,
  ``compile``, ``__import__``, ``globals``, ``locals``, ``vars`` (unless
  ``allow_dynamic``) or ``open`` (unless ``allow_open``). ``input``,
  ``breakpoint`` and ``help`` are always rejected: they wait for a terminal
  that is not there.
* **Imports** are checked when they run, against the allow-list, and fail
  with an ``ImportError`` that says how to allow the module; so
  ``try: import scipy`` / ``except ImportError:`` fallbacks still work.

Known gaps (why this is not a security boundary): a dunder name computed at
run time and handed to ``operator.attrgetter`` or used in a computed
``str.format`` template is not caught; private attributes of allowed modules
(``random._os``) are reachable; with ``allow_dynamic``, code objects made by
``compile`` run unchecked.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..exceptions import AgentExecutionError

__all__ = [
    "DEFAULT_ALLOWED_IMPORTS",
    "SAFE_DUNDERS",
    "INTERNAL_ATTRIBUTES",
    "Violation",
    "find_violations",
    "ImportPolicy",
    "build_builtins",
]

DEFAULT_ALLOWED_IMPORTS: frozenset[str] = frozenset(
    {
        "math", "cmath", "statistics", "random", "numbers", "decimal", "fractions",
        "datetime", "time", "calendar", "zoneinfo",
        "json", "csv", "re", "string", "textwrap", "difflib", "unicodedata", "pprint",
        "collections", "itertools", "functools", "operator", "heapq", "bisect", "copy",
        "dataclasses", "typing", "enum", "array", "warnings",
        "hashlib", "base64", "uuid",
        "numpy", "pandas",
    }
)
"""Modules generated code may import by default (and their submodules).

``io`` is left out on purpose: ``io.open`` is ``open`` under another name.
``csv`` works on ``text.splitlines()`` without it. Add modules with
``LocalExecutor(additional_imports=[...])``; ``"*"`` allows every module.
"""

SAFE_DUNDERS: frozenset[str] = frozenset({"__name__", "__qualname__", "__doc__", "__module__", "__init__", "__main__"})
"""Dunder names generated code may use; every other dunder is rejected."""

INTERNAL_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "cr_origin",
        "ag_frame", "ag_code", "ag_await", "tb_frame", "tb_next", "tb_lasti",
        "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "f_trace",
        "co_code", "func_globals", "func_code", "func_closure", "im_func", "im_self",
    }
)
"""Attributes that reach frames, code objects and globals of other code."""

ALWAYS_FORBIDDEN_CALLS: dict[str, str] = {
    "input": "it waits for keyboard input that never comes",
    "breakpoint": "it starts a debugger that waits for a terminal",
    "help": "it starts an interactive pager",
}
DYNAMIC_BUILTINS = ("eval", "exec", "compile", "__import__", "globals", "locals", "vars")
ATTRIBUTE_BUILTINS = ("getattr", "setattr", "delattr", "hasattr")
_DUNDER = re.compile(r"__\w+__")


def is_forbidden_attribute(name: str) -> bool:
    """True for a dunder outside ``SAFE_DUNDERS`` or an interpreter-internal attribute."""
    if name in INTERNAL_ATTRIBUTES:
        return True
    return bool(_DUNDER.fullmatch(name)) and name not in SAFE_DUNDERS


@dataclass(frozen=True)
class Violation:
    """One construct the AST check rejects."""

    lineno: int
    """1-based line in the checked code."""
    column: int
    """Where the construct ends on its line (orders ``a.__x__.__y__`` from the inside out)."""
    message: str
    """What is rejected and why (or how to allow it)."""


class _Checker(ast.NodeVisitor):
    """Collects the violations of one module, in source order."""

    def __init__(self, forbidden_names: dict[str, str], allowed_names: frozenset[str]):
        self.forbidden_names = forbidden_names
        self.allowed_names = allowed_names
        self.violations: list[Violation] = []

    def _reject(self, node: ast.AST, message: str) -> None:
        self.violations.append(Violation(getattr(node, "lineno", 0), getattr(node, "end_col_offset", 0) or 0, message))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if is_forbidden_attribute(node.attr):
            kind = "interpreter-internal attribute" if node.attr in INTERNAL_ATTRIBUTES else "dunder attribute"
            self._reject(node, f"the {kind} '.{node.attr}'")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in self.forbidden_names:
            self._reject(node, f"'{node.id}': {self.forbidden_names[node.id]}")
        elif _DUNDER.fullmatch(node.id) and node.id not in SAFE_DUNDERS and node.id not in self.allowed_names:
            self._reject(node, f"the dunder name '{node.id}'")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ATTRIBUTE_BUILTINS and len(node.args) >= 2:
            name = node.args[1]
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and is_forbidden_attribute(name.value):
                self._reject(node, f"{func.id}() of the attribute {name.value!r}")
                self.visit(func)
                for arg in (*node.args[:1], *node.args[2:], *node.keywords):
                    self.visit(arg)
                return
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            bad = [m for m in _DUNDER.findall(node.value) if m not in SAFE_DUNDERS]
            if bad:
                self._reject(node, f"a string containing the dunder name '{bad[0]}' "
                             "(getattr, attrgetter or str.format could use it to reach interpreter internals)")

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        for attr in node.kwd_attrs:
            if is_forbidden_attribute(attr):
                self._reject(node, f"matching on the attribute '{attr}'")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self._reject(node, "a relative import (there is no package here)")
        for alias in node.names:
            if is_forbidden_attribute(alias.name):
                self._reject(node, f"importing the name '{alias.name}' (a module's internals, e.g. its real __builtins__)")
        self.generic_visit(node)


def forbidden_names(*, allow_open: bool, allow_dynamic: bool) -> dict[str, str]:
    """Builtin names generated code may not mention, each with the reason (and the fix)."""
    names = dict(ALWAYS_FORBIDDEN_CALLS)
    if not allow_dynamic:
        for name in DYNAMIC_BUILTINS:
            names[name] = "dynamic code and namespace access are off; pass LocalExecutor(allow_dynamic=True) to allow it"
    if not allow_open:
        names["open"] = "file access is off; pass LocalExecutor(allow_open=True) to allow it"
    return names


def find_violations(tree: ast.AST, *, allow_open: bool = False, allow_dynamic: bool = False) -> list[Violation]:
    """Every construct in ``tree`` that the rules above reject, in source order."""
    names = forbidden_names(allow_open=allow_open, allow_dynamic=allow_dynamic)
    checker = _Checker(names, frozenset({"__import__"}) if allow_dynamic else frozenset())
    checker.visit(tree)
    return sorted(checker.violations, key=lambda v: (v.lineno, v.column))


class ImportPolicy:
    """Which modules generated code may import: an allow-list of top-level names.

    Allowing a module allows its submodules (``numpy`` allows ``numpy.linalg``).
    """

    PYTHON_HINT = "To allow it, create the executor with LocalExecutor(additional_imports=['{module}'])"

    def __init__(self, additional: Iterable[str] = (), *, hint: str | None = None):
        self.hint = hint or self.PYTHON_HINT
        """How the user allows a module (``{module}`` is filled in); part of the refusal."""
        extra = {name.strip() for name in additional if name and name.strip()}
        self.allow_all = "*" in extra
        self.allowed = frozenset(DEFAULT_ALLOWED_IMPORTS | (extra - {"*"}))

    def is_allowed(self, module: str) -> bool:
        """True if ``module`` (dotted) is on the list or below a module that is."""
        if self.allow_all:
            return True
        parts = module.split(".")
        return any(".".join(parts[:i]) in self.allowed for i in range(1, len(parts) + 1))

    def refusal(self, module: str) -> str:
        """The message for an import that is not allowed."""
        top = module.split(".")[0]
        return (
            f"import of '{module}' is not allowed. Allowed modules: {', '.join(sorted(self.allowed))}. "
            + self.hint.format(module=top)
        )

    def make_import(self) -> Callable[..., Any]:
        """A replacement for ``__import__`` that enforces this policy."""
        real_import = builtins.__import__

        def guarded_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
            if level:
                raise ImportError("relative imports are not allowed (there is no package here)")
            if not self.is_allowed(name):
                raise ImportError(self.refusal(name))
            hidden = [item for item in fromlist or () if isinstance(item, str) and is_forbidden_attribute(item)]
            if hidden:
                raise ImportError(f"importing the name {hidden[0]!r} from '{name}' is not allowed")
            return real_import(name, globals, locals, fromlist, level)

        return guarded_import


def _guard_attribute_builtin(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``getattr``-like ``function`` to refuse forbidden attribute names at call time."""

    def guarded(obj: Any, attr: Any, *rest: Any) -> Any:
        if isinstance(attr, str) and is_forbidden_attribute(attr):
            raise AgentExecutionError(f"{name}() of the attribute {attr!r} is not allowed in generated code")
        return function(obj, attr, *rest)

    guarded.__name__ = guarded.__qualname__ = name
    guarded.__doc__ = function.__doc__
    return guarded


def _checked_dynamic(policy_args: dict[str, bool]) -> dict[str, Callable[..., Any]]:
    """``eval``/``exec`` that run the AST check on string sources (for ``allow_dynamic``).

    Code objects (from ``compile``) are not checked; documented as such.
    """

    def check(source: Any) -> None:
        if isinstance(source, str):
            mode = "exec"
            try:
                tree = ast.parse(source, mode=mode)
            except SyntaxError:
                return  # the real eval/exec reports it
            problems = find_violations(tree, **policy_args)
            if problems:
                raise AgentExecutionError(f"not allowed in dynamic code (line {problems[0].lineno}): {problems[0].message}")

    def _caller_namespaces(globals_: Any, locals_: Any) -> tuple[Any, Any]:
        if globals_ is None:
            frame = sys._getframe(2)
            return frame.f_globals, frame.f_locals if locals_ is None else locals_
        return globals_, locals_

    def eval_(source: Any, globals: Any = None, locals: Any = None) -> Any:
        check(source)
        g, l = _caller_namespaces(globals, locals)
        return builtins.eval(source, g, l)

    def exec_(source: Any, globals: Any = None, locals: Any = None) -> None:
        check(source)
        g, l = _caller_namespaces(globals, locals)
        builtins.exec(source, g, l)

    eval_.__name__, exec_.__name__ = "eval", "exec"
    return {"eval": eval_, "exec": exec_}


def build_builtins(
    *,
    policy: ImportPolicy,
    print_function: Callable[..., None],
    allow_open: bool,
    allow_dynamic: bool,
) -> dict[str, Any]:
    """The builtins dict generated code runs with.

    Forbidden names are removed (the AST check already rejects them; this is
    a second line), ``__import__`` enforces ``policy``, ``print`` writes to
    the run's log, and ``getattr``-like builtins refuse forbidden names.
    """
    table = dict(vars(builtins))
    for name in (*ALWAYS_FORBIDDEN_CALLS, "copyright", "credits", "license"):
        table.pop(name, None)
    if not allow_dynamic:
        for name in DYNAMIC_BUILTINS:
            table.pop(name, None)
    else:
        table.update(_checked_dynamic({"allow_open": allow_open, "allow_dynamic": allow_dynamic}))
    if not allow_open:
        table.pop("open", None)
    table["__import__"] = policy.make_import()
    table["print"] = print_function
    for name in ATTRIBUTE_BUILTINS:
        table[name] = _guard_attribute_builtin(name, getattr(builtins, name))
    return table
