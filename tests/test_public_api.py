import subprocess
import sys

import smolkernel


def test_all_is_the_documented_surface():
    assert smolkernel.__all__ == [
        "CodeAgent", "ToolCallingAgent", "RunResult", "AgentSpec", "load_agent", "load_tool", "AgentMemory",
        "Model", "ChatMessage", "ToolCall", "TokenUsage",
        "LiteLLMModel", "OpenAIServerModel", "InferenceClientModel", "TransformersModel", "ScriptedModel", "resolve_model",
        "Tool", "tool",
        "Executor", "CodeOutput", "LocalExecutor", "KernelExecutor", "SandboxExecutor", "resolve_executor",
        "SmolkernelError", "AgentError", "ConfigurationError", "RunError",
        "load_ipython_extension", "unload_ipython_extension", "__version__",
    ]


def test_every_name_in_all_resolves():
    for name in smolkernel.__all__:
        assert getattr(smolkernel, name) is not None, name
    assert smolkernel.__version__ == "0.1.0"


def test_import_loads_no_heavy_dependency():
    code = (
        "import sys, smolkernel, smolkernel.agents, smolkernel.tools, smolkernel.models;"
        "heavy = [m for m in ('litellm', 'openai', 'transformers', 'torch', 'docker', 'e2b', 'dask', 'huggingface_hub', 'jupyter_client', 'zmq') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
