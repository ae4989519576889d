"""One real browser: JupyterLab (from PyPI) shows a finished run's step cards.

JupyterLab serves on 127.0.0.1 with a token; Playwright drives Debian's
Chromium (``/usr/bin/chromium``; never a downloaded browser). Skipped locally
when Chromium, Playwright or JupyterLab is missing; in CI (``CI=true``) that
is a failure instead.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import needs
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing() -> list[str]:
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{package} (pip install {package})")
    return missing


@pytest.fixture(scope="module")
def browser_ready():
    missing = _missing()
    if missing:
        needs.missing("browser test needs " + ", ".join(missing))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab_server(browser_ready, executed_notebook, tmp_path):
    """A JupyterLab server on 127.0.0.1 whose root holds the executed notebook."""
    _, path = executed_notebook
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(path, root / "run.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    log = open(tmp_path / "lab.log", "w")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; log:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_jupyterlab_shows_the_step_cards(lab_server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, token = lab_server
    shot: Path = tmp_path / "jupyterlab-run.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.goto(f"{base}/lab/tree/run.ipynb?token={token}", timeout=60_000)
            page.wait_for_selector(".jp-OutputArea-output details.sk-step", timeout=60_000)
            static_cards = page.locator(".jp-OutputArea-output .smolkernel-run-view details.sk-step")
            assert static_cards.count() >= 4
            assert page.locator(".jp-OutputArea-output .sk-step-error").count() >= 1
            assert "Final answer" in page.locator(".jp-OutputArea-output .sk-final").last.inner_text()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.exists() and shot.stat().st_size > 10_000
