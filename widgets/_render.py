"""Turn ``RunState`` trees into HTML (widget pieces and the static snapshot) and plain text.

Everything uses inline styles, so the HTML reads the same inside a widget, in
JupyterLab's sanitized output, in an nbconvert report and in an e-mail, with
no stylesheet, no JavaScript and no network. Class names (``sk-run``,
``sk-step``, ``sk-error``, ``sk-final``, ...) are there for tests and for
users who want to restyle.
"""

from __future__ import annotations

import html
import re
from typing import Any

from smolkernel._text import counted

from ._state import RunState, StepState

__all__ = [
    "code_html",
    "markdown_html",
    "step_body_html",
    "run_header_html",
    "run_footer_html",
    "run_snapshot_html",
    "run_text",
    "format_tokens",
    "format_seconds",
]

RED = "#c62828"
GREEN = "#2e7d32"
GREY = "#757575"
BOX = "border:1px solid #ddd;border-radius:4px;padding:4px 8px;margin:4px 0;"
PRE = "white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:12px;"
MAX_TEXT_CHARS = 20_000
"""Longer texts are cut in views (the run's data keeps them whole)."""


def format_tokens(tokens_in: int, tokens_out: int, cost: float | None = None) -> str:
    """``"1,200 in / 300 out tokens · $0.0012"``."""
    text = f"{tokens_in:,} in / {tokens_out:,} out tokens"
    return text if cost is None else f"{text} · ${cost:.4f}"


def format_seconds(seconds: float) -> str:
    """``"0.42 s"``, ``"3 min 05 s"``."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n[... {len(text) - MAX_TEXT_CHARS} more characters]"


def code_html(code: str, language: str = "python") -> str:
    """Code highlighted by pygments with inline styles (plain ``<pre>`` without pygments)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
    except ImportError:  # the widgets extra brings pygments; degrade rather than fail a run
        return f"<pre class='sk-code' style='{PRE}'>{html.escape(code)}</pre>"
    try:
        lexer = get_lexer_by_name(language)
    except Exception:
        lexer = get_lexer_by_name("text")
    formatter = HtmlFormatter(noclasses=True, nobackground=True, cssclass="sk-code")
    body = highlight(_cut(code), lexer, formatter)
    return re.sub(r"<pre[^>]*>", f"<pre style='line-height:125%;{PRE}'>", body, count=1)


_FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_INLINE = [
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*\n]+)\*\*"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])"), r"<i>\1</i>"),
]


def markdown_html(text: str) -> str:
    """A small Markdown subset: fenced code (highlighted), headings, bold, italics, inline code.

    Enough for model replies ("Thought: ... ```py ...```"); anything else
    stays readable as text with its line breaks.
    """
    parts: list[str] = []
    position = 0
    text = _cut(text)
    for match in _FENCE.finditer(text):
        parts.append(_paragraphs(text[position : match.start()]))
        parts.append(code_html(match.group(2).rstrip("\n"), match.group(1) or "python"))
        position = match.end()
    parts.append(_paragraphs(text[position:]))
    return "".join(parts)


def _paragraphs(text: str) -> str:
    if not text.strip():
        return ""
    lines = []
    for line in html.escape(text.strip("\n")).split("\n"):
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        if heading:
            line = f"<b>{heading.group(2)}</b>"
        for pattern, replacement in _INLINE:
            line = pattern.sub(replacement, line)
        lines.append(line)
    return f"<div class='sk-text' style='white-space:pre-wrap;margin:2px 0'>{'<br>'.join(lines)}</div>"


def display_html(bundle: dict[str, Any]) -> str:
    """One rich display (mime bundle) as HTML: image, HTML table, Markdown or text."""
    if "image/png" in bundle:
        return f"<img class='sk-display' style='max-width:100%' src='data:image/png;base64,{bundle['image/png']}'>"
    if "image/jpeg" in bundle:
        return f"<img class='sk-display' style='max-width:100%' src='data:image/jpeg;base64,{bundle['image/jpeg']}'>"
    for mime in ("image/svg+xml", "text/html"):
        if mime in bundle:
            return f"<div class='sk-display' style='overflow:auto'>{bundle[mime]}</div>"
    if "text/markdown" in bundle:
        return markdown_html(str(bundle["text/markdown"]))
    return f"<pre class='sk-display' style='{PRE}'>{html.escape(str(bundle.get('text/plain', '')))}</pre>"


def _section(label: str, body: str, css: str = "") -> str:
    return f"<div class='sk-{label.lower()}' style='margin:4px 0;{css}'><small style='color:{GREY}'>{label}</small>{body}</div>"


def model_text(step: StepState) -> str:
    """The model's text without the code block that the Code section already shows."""
    if not step.code or step.status == "running":
        return step.text
    code = step.code.strip()
    return _FENCE.sub(lambda m: "" if m.group(2).strip() == code else m.group(0), step.text).strip()


def step_body_html(step: StepState) -> str:
    """The inside of one step card (without nested runs)."""
    parts = []
    text = model_text(step)
    if text:
        label = "Plan" if step.kind == "planning" else "Model"
        parts.append(_section(label, markdown_html(text)))
    elif step.status == "running":
        parts.append(f"<div style='color:{GREY}'>waiting for the model…</div>")
    if step.code:
        parts.append(_section("Code", code_html(step.code)))
    if step.observations:
        parts.append(_section("Observations", f"<pre style='{PRE}'>{html.escape(_cut(step.observations))}</pre>"))
    if step.displays:
        parts.append(_section("Displays", "".join(display_html(d.get("data", {})) for d in step.displays)))
    if step.error:
        body = f"<pre style='{PRE}color:{RED}'>{html.escape(_cut(step.error))}</pre>"
        parts.append(_section("Error", body, f"border-left:4px solid {RED};padding-left:6px;background:#fdecea"))
    return "".join(parts)


def _final_html(output: Any, label: str = "Final answer", ok: bool = True) -> str:
    color = GREEN if ok else RED
    text = output if isinstance(output, str) else repr(output)
    return (
        f"<div class='sk-final' style='border:2px solid {color};border-radius:4px;padding:4px 8px;margin:4px 0;"
        f"background:{'#e8f5e9' if ok else '#fdecea'}'><b style='color:{color}'>{label}</b>"
        f"<pre style='{PRE}font-size:13px'>{html.escape(_cut(text))}</pre></div>"
    )


def run_header_html(run: RunState, title: str | None = None) -> str:
    """The header line(s): title, task, status, model, step n of max, time, tokens."""
    status = {
        "waiting": ("waiting", GREY),
        "running": ("running…", "#1565c0"),
        "done": ("✔ done", GREEN),
        "failed": ("✘ failed", RED),
        "interrupted": ("✘ interrupted", RED),
    }[run.status]
    steps = len(run.action_steps)
    budget = f"step {steps} of {run.max_steps}" if run.max_steps else counted(steps, 'step')
    figures = [f"<span style='color:{status[1]};font-weight:bold'>{status[0]}</span>"]
    if run.model_id:
        figures.append(html.escape(run.model_id))
    figures += [budget, format_seconds(run.elapsed), format_tokens(run.input_tokens, run.output_tokens, run.cost)]
    heading = ""
    if title and title != run.task:
        heading = f"<div style='font-weight:bold'>{html.escape(title)}</div>"
    who = f"<code>{html.escape(run.agent_name)}</code> " if run.depth else ""
    task = html.escape(run.task[:500] + ("…" if len(run.task) > 500 else ""))
    return (
        f"<div class='sk-header' data-status='{run.status}'>{heading}"
        f"<div>{who}<b>{task}</b></div><small>{' · '.join(figures)}</small></div>"
    )


def run_footer_html(run: RunState) -> str:
    """The end of the run: the final answer standing out, or why the run failed."""
    if run.status == "done":
        return _final_html(run.output)
    if run.status in ("failed", "interrupted"):
        parts = [f"<div class='sk-error sk-run-error' style='color:{RED};font-weight:bold'>✘ {html.escape(run.error or run.status)}</div>"]
        if run.output not in (None, ""):
            parts.append(_final_html(run.output, label="Last attempt", ok=False))
        return "".join(parts)
    return ""


def _step_details(step: StepState, is_open: bool) -> str:
    color = RED if step.status == "error" else GREEN if step.is_final else "#ddd"
    classes = "sk-step" + (" sk-step-error" if step.status == "error" else "") + (" sk-step-final" if step.is_final else "")
    nested = "".join(_run_block(child) for child in step.children)
    return (
        f"<details class='{classes}' style='{BOX}border-left:4px solid {color}'{' open' if is_open else ''}>"
        f"<summary style='cursor:pointer'>{html.escape(step.title)}</summary>"
        f"{step_body_html(step)}{nested}</details>"
    )


def _run_block(run: RunState, title: str | None = None) -> str:
    last = len(run.steps) - 1
    cards = "".join(_step_details(step, i == last) for i, step in enumerate(run.steps))
    indent = "margin-left:12px;background:#fafafa;" if run.depth else ""
    return (
        f"<div class='sk-run' style='{BOX}{indent}font-family:sans-serif;font-size:13px'>"
        f"{run_header_html(run, title)}<div class='sk-steps'>{cards}</div>{run_footer_html(run)}</div>"
    )


def run_snapshot_html(run: RunState, title: str | None = None) -> str:
    """The whole run as static HTML: header, collapsible step cards (latest open), nested runs, answer."""
    return _run_block(run, title)


def run_text(run: RunState, title: str | None = None, indent: str = "") -> str:
    """The run as plain text, for terminals and ``text/plain``."""
    head = {"waiting": "…", "running": "…", "done": "✔", "failed": "✘", "interrupted": "✘"}[run.status]
    who = f"[{run.agent_name}] " if run.depth else ""
    lines = []
    if title and title != run.task and not run.depth:
        lines.append(f"{indent}{title}")
    budget = f"{len(run.action_steps)}/{run.max_steps} steps" if run.max_steps else counted(len(run.action_steps), 'step')
    figures = " · ".join(x for x in (run.model_id, budget, format_seconds(run.elapsed), format_tokens(run.input_tokens, run.output_tokens, run.cost)) if x)
    lines.append(f"{indent}{head} {who}{run.task}  ({run.status}; {figures})")
    for step in run.steps:
        lines.append(f"{indent}  {step.title}")
        lines.extend(_step_text(step, indent + "    "))
        for child in step.children:
            lines.append(run_text(child, indent=indent + "    "))
    if run.status == "done":
        lines.append(f"{indent}Final answer: {_short(run.output, 2000)}")
    elif run.status in ("failed", "interrupted"):
        lines.append(f"{indent}✘ {run.error or run.status}")
    return "\n".join(lines)


def _step_text(step: StepState, indent: str) -> list[str]:
    lines = []
    for label, value in (("", model_text(step)), ("code: ", step.code), ("observations: ", step.observations)):
        if value:
            lines.append(indent + label + _short(value, 400).replace("\n", "\n" + indent))
    if step.displays:
        lines.append(f"{indent}[{len(step.displays)} display(s)]")
    if step.error:
        lines.append(f"{indent}✘ error: " + _short(step.error, 600).replace("\n", "\n" + indent))
    return lines


def _short(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
