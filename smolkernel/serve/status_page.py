"""The HTML status page at ``/``: runs in flight, recent runs, tokens, cost, errors.

With ``--dask`` it also names the scheduler the runs go to and its workers.

A static page whose script polls ``/v1/status`` every two seconds; when the
server needs a key, the page asks for it once and keeps it for the tab.
"""

__all__ = ["STATUS_PAGE"]

STATUS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>smolkernel serve</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}
.succeeded{color:#17803d}.failed{color:#b42318}.cancelled{color:#777}.running,.queued{color:#1d4ed8}
#totals span{margin-right:1.5em}#error{color:#b42318}
</style></head><body>
<h1>smolkernel serve <small id="agent"></small></h1>
<form id="login" hidden>API key: <input id="key" type="password" autocomplete="off"> <button>Show</button></form>
<p id="error"></p>
<div id="totals"></div>
<h2>In flight</h2><table id="in-flight"><thead><tr><th>run</th><th>status</th><th>task</th></tr></thead><tbody></tbody></table>
<h2>Recent runs</h2><table id="recent"><thead><tr><th>run</th><th>status</th><th>task</th><th>seconds</th><th>cost</th><th>error</th></tr></thead><tbody></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
function cell(text, cls) { const td = document.createElement("td"); td.textContent = text ?? ""; if (cls) td.className = cls; return td; }
function fill(id, rows, cols) {
  const body = $(id).querySelector("tbody"); body.replaceChildren();
  for (const r of rows) { const tr = document.createElement("tr"); tr.dataset.runId = r.run_id;
    for (const c of cols) tr.appendChild(c(r)); body.appendChild(tr); }
}
const money = (x) => x === null || x === undefined ? "n/a" : "$" + x.toFixed(4);
async function refresh() {
  const key = sessionStorage.getItem("smolkernel-key");
  const res = await fetch("/v1/status", {headers: key ? {Authorization: "Bearer " + key} : {}});
  if (res.status === 401) { $("login").hidden = false; $("error").textContent = key ? "That key was refused." : ""; return; }
  if (!res.ok) { $("error").textContent = "The server answered " + res.status; return; }
  $("login").hidden = true; $("error").textContent = "";
  const s = await res.json(), t = s.totals;
  $("agent").textContent = s.agent;
  $("totals").innerHTML = "";
  for (const [label, value] of [["runs", t.runs], ["succeeded", t.succeeded], ["errors", t.failed], ["cancelled", t.cancelled],
       ["tokens in", t.input_tokens], ["tokens out", t.output_tokens], ["cost", money(t.cost)],
       ["running here", s.load.running + "/" + s.load.concurrency], ["queued here", s.load.queued],
       ...(s.load.dask ? [["dask", s.load.dask + " (" + (s.load.dask_workers ?? "?") + " workers)"]] : [])]) {
    const span = document.createElement("span"); span.dataset.total = label; span.textContent = label + ": " + value; $("totals").appendChild(span); }
  fill("in-flight", s.in_flight, [r => cell(r.run_id.slice(-8)), r => cell(r.status, r.status), r => cell(r.task.slice(0, 120))]);
  fill("recent", s.recent, [r => cell(r.run_id.slice(-8)), r => cell(r.status + (r.cached ? " (cached)" : ""), r.status),
       r => cell(r.task.slice(0, 120)), r => cell(r.duration === null ? "" : r.duration.toFixed(2)), r => cell(money(r.cost)), r => cell(r.error)]);
}
$("login").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem("smolkernel-key", $("key").value); refresh(); });
refresh(); setInterval(refresh, 2000);
</script></body></html>
"""
