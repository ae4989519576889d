"""Build the wheel for real and check that every mapped package is inside it."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contains_every_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check", "--outdir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    wheel = next(tmp_path.glob("smolkernel-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in [
        "smolkernel/__init__.py",
        "smolkernel/agents/prompts/code_agent.txt",
        "smolkernel/agents/prompts/toolcalling_agent.txt",
        "smolkernel/models/base.py",
        "smolkernel/executors/base.py",
        "smolkernel/executors/wasm_runner.mjs",
        "smolkernel/magics/__init__.py",
        "smolkernel/widgets/__init__.py",
        "smolkernel/kernelspec/kernel.json",
    ]:
        assert required in names, f"{required} missing from {wheel.name}"
    assert not any(n.startswith(("magics/", "widgets/", "kernelspec/")) for n in names)
