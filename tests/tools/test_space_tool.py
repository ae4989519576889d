"""Tool.from_space against a real Gradio app served on loopback (tests/tools/gradio_apps/demo_app.py)."""

from __future__ import annotations

import pytest

from smolkernel import CodeAgent, ScriptedModel
from smolkernel.exceptions import AgentToolCallError, ConfigurationError, ToolServerError
from smolkernel.tools import Media, Tool

pytestmark = pytest.mark.slow  # one Gradio app for the session: importing gradio takes 10-40 s


def test_inputs_and_outputs_come_from_the_api_description(gradio_url):
    greet = Tool.from_space(gradio_url, api_name="/greet")
    assert greet.name == "greet"
    assert greet.inputs["name"]["type"] == "string"
    assert greet.inputs["times"]["type"] == "integer" and greet.inputs["times"]["default"] == 1
    assert greet.output_type == "string"
    assert "Greets someone" in greet.description
    assert greet(name="Ada") == "Hello, Ada!"
    assert greet("Ada", times=2) == "Hello, Ada! Hello, Ada!"
    with pytest.raises(AgentToolCallError, match="times"):
        greet("Ada", times="many")


def test_images_come_back_as_media(gradio_url):
    square = Tool.from_space(gradio_url, api_name="red_square", name="draw_square", description="Draw a red square.")
    assert square.name == "draw_square" and square.description == "Draw a red square."
    image = square(size=4)
    assert isinstance(image, Media) and image.kind == "image"
    bundle = image._repr_mimebundle_()
    assert "text/html" in bundle or "image/png" in bundle
    assert len(image.data) > 20


def test_several_outputs_are_a_list(gradio_url):
    stats = Tool.from_space(gradio_url, api_name="/stats")
    assert stats.output_type == "array"
    assert stats(numbers="1,2,6") == [{"mean": 3.0, "max": 6.0}, 3]


def test_app_errors_are_tool_errors(gradio_url):
    broken = Tool.from_space(gradio_url, api_name="/broken")
    with pytest.raises(ToolServerError, match="cannot handle 'x'"):
        broken("x")


def test_endpoint_must_be_named_when_there_are_several(gradio_url):
    with pytest.raises(ConfigurationError, match="several endpoints .*/greet"):
        Tool.from_space(gradio_url)
    with pytest.raises(ConfigurationError, match="no endpoint '/nope'.*/red_square"):
        Tool.from_space(gradio_url, api_name="/nope")


def test_unreachable_app_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="could not reach the Gradio app"):
        Tool.from_space("http://127.0.0.1:9/")


def test_agent_in_a_kernel_executor_uses_a_space_tool_and_shows_its_image(gradio_url):
    square = Tool.from_space(gradio_url, api_name="/red_square")
    model = ScriptedModel(["```python\nimage = red_square(size=3)\nprint(image)\n```", "```python\nfinal_answer('drawn')\n```"])
    agent = CodeAgent([square], model, executor="kernel", executor_options={"timeout": 60})
    try:
        result = agent.run("draw a red square")
    finally:
        agent.close()
    assert result.success and result.output == "drawn"
    step = result.action_steps[0]
    assert step.error is None, step.error
    assert "<image/" in step.observations
    assert any(key.startswith("image/") or key == "text/html" for bundle in step.displays for key in bundle["data"])


def test_space_entry_of_an_agent_spec(gradio_url, monkeypatch):
    from smolkernel import AgentSpec
    from smolkernel.exceptions import AgentSpecError

    spec = AgentSpec.from_dict({
        "model": "scripted", "model_options": {"responses": ["```python\nfinal_answer(hello(name='Bo'))\n```"]},
        "tools": [{"space": gradio_url, "api_name": "/greet", "name": "hello"}],
    })
    agent = spec.build()
    assert agent.run("greet Bo").output == "Hello, Bo!"
    assert agent.to_spec().tools == [{"space": gradio_url, "api_name": "/greet", "name": "hello"}]
    monkeypatch.delenv("SMOLKERNEL_TEST_HF_TOKEN", raising=False)
    bad = AgentSpec.from_dict({"model": "scripted", "model_options": {"responses": ["x"]},
                               "tools": [{"space": gradio_url, "token_env": "SMOLKERNEL_TEST_HF_TOKEN"}]})
    with pytest.raises(AgentSpecError, match=r"tools\[0\].*SMOLKERNEL_TEST_HF_TOKEN"):
        bad.build()
