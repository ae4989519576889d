"""Cost per model call from litellm's bundled price map (offline)."""

import importlib.util
import json
from pathlib import Path

import pytest

from smolkernel import CodeAgent
from smolkernel.models import ScriptedModel, TokenUsage
from smolkernel.monitoring import cost_of, price_usage


def _litellm_prices(model: str) -> tuple[float, float]:
    """The prices in litellm's own file (found without importing litellm, which takes seconds)."""
    folder = importlib.util.find_spec("litellm").submodule_search_locations[0]
    table = json.loads((Path(folder) / "model_prices_and_context_window_backup.json").read_text())
    return table[model]["input_cost_per_token"], table[model]["output_cost_per_token"]


def test_known_model_priced_from_litellm_map_with_or_without_provider_prefix():
    price_in, price_out = _litellm_prices("gpt-4o-mini")
    expected = 1000 * price_in + 100 * price_out
    assert cost_of("gpt-4o-mini", 1000, 100) == pytest.approx(expected)
    assert cost_of("openai/gpt-4o-mini", 1000, 100) == pytest.approx(expected)


def test_unknown_model_has_no_cost_not_zero():
    assert cost_of("scripted", 1000, 100) is None
    assert cost_of("my-private/finetune-7b", 10, 10) is None
    usage = price_usage("loopback", TokenUsage(5, 5))
    assert usage.cost is None


def test_backend_cost_is_kept():
    usage = price_usage("gpt-4o-mini", TokenUsage(5, 5, cost=1.5))
    assert usage.cost == 1.5


def test_run_result_cost_sums_its_calls(reply):
    price_in, price_out = _litellm_prices("gpt-4o-mini")
    model = ScriptedModel([reply("```python\nx = 1\n```"), reply("```python\nfinal_answer(x)\n```", 500, 50)], model_id="gpt-4o-mini")
    result = CodeAgent([], model, executor="local").run("one")
    expected = (1500 * price_in) + (150 * price_out)
    assert result.cost == pytest.approx(expected)
    assert [s.token_usage.cost for s in result.action_steps] == [pytest.approx(1000 * price_in + 100 * price_out), pytest.approx(500 * price_in + 50 * price_out)]
    assert "$" in result._repr_mimebundle_()["text/plain"]
