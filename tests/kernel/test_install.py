"""``smolkernel install`` / ``uninstall`` into a temporary prefix, seen by ``jupyter kernelspec list``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from smolkernel.cli import main


def _kernelspec_list(prefix: Path) -> dict:
    env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)["kernelspecs"]


def test_install_into_a_prefix_is_listed_by_jupyter(tmp_path, capsys):
    assert main(["install", "--prefix", str(tmp_path)]) == 0
    folder = tmp_path / "share" / "jupyter" / "kernels" / "smolkernel"
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["argv"][:3] == ["python", "-m", "smolkernel.kernel"]
    assert (folder / "logo-64x64.png").is_file() and (folder / "logo-32x32.png").is_file()
    listed = _kernelspec_list(tmp_path)
    assert listed["smolkernel"]["spec"]["display_name"] == "SmolKernel (agent)"
    assert "installed kernelspec" in capsys.readouterr().out


def test_name_and_display_name_and_uninstall(tmp_path):
    assert main(["install", "--prefix", str(tmp_path), "--name", "agent2", "--display-name", "Agent Two"]) == 0
    assert _kernelspec_list(tmp_path)["agent2"]["spec"]["display_name"] == "Agent Two"
    assert main(["uninstall", "--prefix", str(tmp_path), "--name", "agent2"]) == 0
    assert "agent2" not in _kernelspec_list(tmp_path)
    assert main(["uninstall", "--prefix", str(tmp_path), "--name", "agent2"]) == 1


def test_console_script_runs(tmp_path):
    script = Path(sys.executable).with_name("smolkernel")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "smolkernel.cli"]
    out = subprocess.run([*command, "install", "--prefix", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "share" / "jupyter" / "kernels" / "smolkernel" / "kernel.json").is_file()


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "install" in capsys.readouterr().out
