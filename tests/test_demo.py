"""The terminal demo (`python -m smolkernel.demo`) runs offline and solves its task."""

import subprocess
import sys


def test_terminal_demo_prints_its_steps_and_the_answer():
    env = {"PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([sys.executable, "-m", "smolkernel.demo"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "── Step 1" in out and "KeyError" in out  # step 1 fails (wrong case) and the model sees it
    assert "{'north': 2075, 'south': 3440, 'east': 1030}" in out
    assert "Answer: south: 3440 units" in out and "Success: True" in out
