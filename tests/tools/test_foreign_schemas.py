"""Names and JSON schemas from MCP servers and Gradio apps, made fit for smolkernel tools;
Media, the value binary tool results become."""

from __future__ import annotations

import base64

import pytest

from smolkernel.tools._foreign import input_spec, inputs_from_schema, python_name
from smolkernel.tools.media import Media


@pytest.mark.parametrize(("name", "tool", "expected"), [
    ("get-sum", True, "get_sum"), ("class", False, "class_"), ("2fa code", False, "_2fa_code"),
    ("print", True, "print_"), ("print", False, "print"), ("", True, "tool"),
])
def test_python_names(name, tool, expected):
    assert python_name(name, tool=tool) == expected


def test_taken_names_get_a_suffix():
    assert python_name("a-b", {"a_b", "a_b_2"}) == "a_b_3"


def test_schema_types_become_one_checked_type():
    assert input_spec({"type": ["string", "null"]}, required=True) == {"type": "string", "description": "(no description)", "nullable": True}
    assert input_spec({"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "Count"}, required=False) == {
        "type": "integer", "description": "Count", "default": None, "nullable": True}
    assert input_spec({"anyOf": [{"type": "integer"}, {"type": "string"}]}, required=True)["type"] == "any"
    assert input_spec({"$ref": "#/defs/Thing"}, required=True)["type"] == "any"
    assert input_spec({"type": "array", "items": {"type": "number"}}, required=True)["items"] == {"type": "number"}
    assert input_spec({"enum": ["a", "b"]}, required=True) == {"type": "string", "description": "(no description)", "enum": ["a", "b"]}


def test_object_schema_to_inputs_puts_required_first_and_keeps_original_names():
    inputs, originals = inputs_from_schema({
        "type": "object",
        "properties": {"max-results": {"type": "integer", "default": 5}, "class": {"type": "string", "description": "kind"}, "q": {"type": "string"}},
        "required": ["class", "q"],
    })
    assert list(inputs) == ["class_", "q", "max_results"]
    assert originals == {"class_": "class", "q": "q", "max_results": "max-results"}
    assert inputs["max_results"]["default"] == 5 and "nullable" not in inputs["class_"]


def test_media_displays_and_repr():
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
    image = Media.from_base64(base64.b64encode(png).decode(), "image/png")
    assert repr(image) == "<image/png, 70 bytes>" and image.kind == "image"
    assert image._repr_mimebundle_()["image/png"] == base64.b64encode(png).decode()
    sound = Media(b"RIFF....", name="beep.wav")
    assert sound.mime_type in ("audio/x-wav", "audio/wav") and "<audio controls" in sound._repr_mimebundle_()["text/html"]
    assert list(Media(b"\x00", "application/zip")._repr_mimebundle_()) == ["text/plain"]
    with pytest.raises(ValueError, match="not valid base64"):
        Media.from_base64("***", "image/png")
