"""The status page at ``/`` and the event stream, in a real headless Chromium.

Playwright drives Debian's Chromium (``/usr/bin/chromium``; never a
downloaded browser; the ``chromium`` fixture is in conftest). The page's
script reads ``/v1/status``; the browser's own ``EventSource`` reads a run's
events. Skipped locally when Chromium or
Playwright is missing; in CI (``CI=true``) that is a failure instead.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COLLECT_EVENTS = """(runId) => new Promise((resolve, reject) => {
  const seen = [];
  const source = new EventSource(`/v1/runs/${runId}/events`);
  for (const kind of ["run_started", "step_started", "model_output", "step_finished", "run_finished"]) {
    source.addEventListener(kind, (e) => {
      seen.push({kind, id: e.lastEventId, data: JSON.parse(e.data)});
      if (kind === "run_finished") { source.close(); resolve(seen); }
    });
  }
  setTimeout(() => { source.close(); reject(new Error("no run_finished; saw " + JSON.stringify(seen))); }, 20000);
})"""


def test_status_page_shows_recent_runs_cost_and_errors(chromium, client, embedded_server, tmp_path):
    ok = client.post("/v1/runs", json={"task": "shown on the page", "wait": True}).json()
    failed = client.post("/v1/runs", json={"task": "fail for the page", "wait": True}).json()
    page = chromium.new_page()
    page.goto(f"{embedded_server.url}/", timeout=30_000)
    page.wait_for_selector(f"#recent tr[data-run-id='{ok['run_id']}']", timeout=15_000)
    row = page.locator(f"#recent tr[data-run-id='{ok['run_id']}']").inner_text()
    assert "shown on the page" in row and "succeeded" in row and "$0.0" in row
    bad = page.locator(f"#recent tr[data-run-id='{failed['run_id']}']").inner_text()
    assert "failed" in bad and "broke on purpose" in bad
    assert page.locator("[data-total='errors']").inner_text().startswith("errors: ")
    assert int(page.locator("[data-total='errors']").inner_text().split(": ")[1]) >= 1
    assert page.locator("[data-total='cost']").inner_text().startswith("cost: $")
    assert page.locator("#agent").inner_text() == "echo_agent"
    page.screenshot(path=str(tmp_path / "status.png"))
    page.close()


def test_running_run_is_in_flight_on_the_page(chromium, client, embedded_server):
    run_id = client.post("/v1/runs", json={"task": "wait 30"}).json()["run_id"]
    page = chromium.new_page()
    try:
        page.goto(f"{embedded_server.url}/", timeout=30_000)
        page.wait_for_selector(f"#in-flight tr[data-run-id='{run_id}']", timeout=15_000)
        row = page.locator(f"#in-flight tr[data-run-id='{run_id}']").inner_text()
        assert "wait 30" in row and run_id[-8:] in row  # run ids begin with the time (UUIDv7): the page shows their random end
    finally:
        client.post(f"/v1/runs/{run_id}/cancel")
        page.close()


def test_browser_event_source_reads_a_run_to_run_finished(chromium, client, embedded_server):
    page = chromium.new_page()
    page.goto(f"{embedded_server.url}/", timeout=30_000)
    run_id = client.post("/v1/runs", json={"task": "wait 0.5"}).json()["run_id"]
    seen = page.evaluate(COLLECT_EVENTS, run_id)
    page.close()
    kinds = [e["kind"] for e in seen]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and kinds.count("step_finished") == 2
    assert [int(e["id"]) for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-1]["data"]["output"] == "WAIT 0.5 (remembered 0)"
