"""A real notebook: executed by nbclient in a python3 kernel, then exported by nbconvert."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def outputs(nb, index):
    return nb.cells[index].outputs


def test_finished_run_output_is_the_static_snapshot(executed_notebook):
    nb, _ = executed_notebook
    (output,) = outputs(nb, 1)
    assert output.output_type == "display_data"
    assert set(output.data) == {"text/html", "text/plain"}  # the widget view was replaced at the run end
    page = output.data["text/html"]
    assert page.count("<details class='sk-step") == 4  # 3 steps + 1 in the nested helper run
    assert "sk-step-error" in page and "missing_tool" in page
    assert "class='sk-final'" in page and "<code>helper</code>" in page
    assert "✔ done" in page and "step 3 of 5" in page
    assert output.data["text/plain"].rstrip().endswith("Final answer: 8")


def test_widget_state_is_kept_in_the_metadata(executed_notebook):
    nb, _ = executed_notebook
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    htmls = [m["state"].get("value", "") for m in state.values() if m["model_name"] == "HTMLModel"]
    assert any("sk-final" in value for value in htmls)
    accordions = [m["state"] for m in state.values() if m["model_name"] == "AccordionModel"]
    assert any(len(a.get("children", [])) == 3 and a["titles"][0].startswith("✘ Step 1") for a in accordions)
    # the kept live view still points at a stored widget
    (live,) = outputs(nb, 2)
    assert live.data[WIDGET_VIEW]["model_id"] in state and "text/html" in live.data


def test_memory_and_usage_views_render(executed_notebook):
    nb, _ = executed_notebook
    memory = outputs(nb, 3)[0].data
    usage = outputs(nb, 4)[0].data
    assert "add things in a notebook" in memory["text/html"] and "sk-slot" in memory["text/html"]
    assert usage["text/html"].count("sk-usage-row") == 4 and "Token usage" in usage["text/plain"]


def test_nbconvert_html_shows_the_step_cards_offline(executed_notebook, tmp_path):
    from nbconvert import HTMLExporter

    nb, path = executed_notebook
    body, _ = HTMLExporter().from_filename(str(path))
    (tmp_path / "report.html").write_text(body, encoding="utf-8")
    # the finished run is plain HTML: no widget placeholder for it, its cards and answer inline
    first_run = body[body.index("Notebook run") - 2000 : body.index("Kept live")]
    assert "jupyter-widgets" not in first_run
    assert first_run.count("<details class='sk-step") == 4 or first_run.count('<details class="sk-step') == 4
    assert re.search(r"sk-final", first_run) and "missing_tool" in first_run
