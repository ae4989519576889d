"""The Jupyter conformance suite (``jupyter_kernel_test``) for SmolKernel and, with the same samples, python3.

SmolKernel's samples are the python3 samples in ``%%python`` cells, so a
``%%python`` cell that differs from a Python cell fails here while the
python3 class (the reference, run the same way) passes.
"""

from __future__ import annotations

import jupyter_kernel_test as jkt
from harness import start_kernel

SAMPLES = {
    "language_name": "python",
    "file_extension": ".py",
    "code_hello_world": "print('hello, world')",
    "code_stderr": "import sys; print('an error', file=sys.stderr)",
    "completion_samples": [{"text": "zi", "matches": {"zip"}}],
    "complete_code_samples": ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"],
    "incomplete_code_samples": ["print('''hello", "def f(x):\n  x*2"],
    "code_page_something": "print?",
    "code_generate_error": "raise ValueError('boom')",
    "code_execute_result": [{"code": "1+2+3", "result": "6"}, {"code": "[n*n for n in range(1, 4)]", "result": "[1, 4, 9]"}],
    "code_display_data": [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))", "mime": "text/latex"},
    ],
    "supported_history_operations": ("tail", "search"),  # "range" fails for python3 too (session 0)
    "code_inspect_sample": "zip",
    "code_clear_output": "from IPython.display import clear_output; clear_output()",
}


def _in_python_cells(samples: dict) -> dict:
    """The same samples, each piece of code in a ``%%python`` cell."""
    cell = "%%python\n"
    out = dict(samples)
    for key, value in samples.items():
        if key.startswith("code_") and isinstance(value, str):
            out[key] = cell + value
        elif key.endswith("_code_samples"):
            out[key] = [cell + v for v in value]
        elif key in ("code_execute_result", "code_display_data", "completion_samples"):
            field = "text" if key == "completion_samples" else "code"
            out[key] = [{**v, field: cell + v[field]} for v in value]
    return out


class TestPython3Kernel(jkt.KernelTests):
    """The reference: ipykernel's python3 (this interpreter)."""

    kernel_name = "python3"
    code_history_pattern = "1?2*"
    locals().update(SAMPLES)


class TestSmolKernel(jkt.KernelTests):
    """SmolKernel, every sample in a ``%%python`` cell."""

    code_history_pattern = "%%python?1?2*"
    locals().update(_in_python_cells(SAMPLES))

    @classmethod
    def setUpClass(cls) -> None:
        cls.driver = start_kernel()
        cls.km, cls.kc = cls.driver.manager, cls.driver.client

    @classmethod
    def tearDownClass(cls) -> None:
        cls.driver.shutdown()
