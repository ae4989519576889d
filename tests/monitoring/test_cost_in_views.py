"""The cost of a run shows in %usage (magics), the kernel's usage line and UsageView; unknown prices show none."""

from smolkernel import CodeAgent
from smolkernel.models import ScriptedModel
from smolkernel.magics._views import usage_text


def _run(model_id: str, reply):
    model = ScriptedModel([reply("```python\nfinal_answer(1)\n```")], model_id=model_id)
    return CodeAgent([], model, executor="local").run("priced task")


def test_usage_text_shows_cost_per_run_and_total_only_when_known(reply):
    priced, unpriced = _run("gpt-4o-mini", reply), _run("house-model", reply)
    text = usage_text([priced, unpriced])
    first, second, total = text.splitlines()
    assert f"${priced.cost:.4f}" in first
    assert "$" not in second
    assert f"${priced.cost:.4f}" in total
    assert "$" not in usage_text([unpriced])


def test_usage_view_and_kernel_line_show_the_cost(reply):
    from smolkernel.kernel.output import run_footer
    from smolkernel.widgets import UsageView

    priced = _run("gpt-4o-mini", reply)
    html = UsageView(priced).to_html()
    assert f"${priced.cost:.4f}" in html
    assert f"${priced.cost:.4f}" in run_footer(priced)
    assert "$" not in UsageView(_run("house-model", reply)).to_html()
