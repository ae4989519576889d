"""Importing smolkernel must not import any model SDK (they are slow and optional)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["litellm", "openai", "transformers", "torch", "huggingface_hub"]


def test_import_does_not_load_model_sdks():
    code = (
        "import sys, json, smolkernel, smolkernel.models, smolkernel.testing\n"
        "from smolkernel.models import ScriptedModel, ChatMessage\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_backend_classes_load_without_their_sdks():
    code = (
        "import sys, json\n"
        "from smolkernel.models import LiteLLMModel, OpenAIServerModel, InferenceClientModel, TransformersModel, resolve_model\n"
        "resolve_model('openai/gpt-4o-mini'); resolve_model('hf:org/name'); resolve_model('transformers:/tmp/x')\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_missing_sdk_names_the_extra():
    """Each backend, with its SDK hidden, says which extra to install."""
    code = (
        "import sys\n"
        "for name in ('litellm', 'openai', 'huggingface_hub', 'transformers'):\n"
        "    sys.modules[name] = None  # makes `import name` fail\n"
        "from smolkernel.exceptions import MissingExtraError\n"
        "from smolkernel.models import LiteLLMModel, OpenAIServerModel, InferenceClientModel, TransformersModel\n"
        "msgs = [{'role': 'user', 'content': 'hi'}]\n"
        "for model in (LiteLLMModel('openai/x', api_key='k'), OpenAIServerModel('x', api_key='k', transport='sdk'),\n"
        "              InferenceClientModel('x', api_base='http://127.0.0.1:9/v1'), TransformersModel('/nowhere')):\n"
        "    try:\n"
        "        model.generate(msgs)\n"
        "    except MissingExtraError as exc:\n"
        "        print(exc.extra)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["litellm", "openai", "hf", "transformers"], result.stderr


def test_the_fast_path_needs_no_openai_sdk():
    """OpenAIServerModel's default transport talks HTTP itself: non-streamed calls work with the SDK hidden."""
    code = (
        "import sys\n"
        "sys.modules['openai'] = None\n"
        "from smolkernel.models import OpenAIServerModel\n"
        "from smolkernel.testing import LoopbackLLMServer\n"
        "with LoopbackLLMServer(['pong']) as server:\n"
        "    print(OpenAIServerModel('x', api_base=server.api_base).generate([{'role': 'user', 'content': 'ping'}]).content)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["pong"], result.stderr
