// The WebAssembly executor's runtime: CPython (Pyodide) under Deno, driven over stdin/stdout.
//
// Started by smolkernel.executors.wasm with only --allow-read of the Pyodide
// folder and of this file's folder: no network, no environment, no
// subprocesses, no writes. One JSON object per line in each direction:
//
//   host -> runtime   {"op": "init", "prelude": PYTHON_SOURCE}        once, first
//                     {"op": "run", "code": ..., "internal": bool}    one execution
//                     {"op": "reply", "value": JSON_TEXT}             answer to a tool call
//   runtime -> host   {"op": "ready"} | {"op": "stream", "name": "stdout"|"stderr", "text": ...}
//                     {"op": "call", "request": JSON_TEXT}            a tool stub was called (blocks)
//                     {"op": "done", "result": JSON_TEXT}             the execution ended
//
// Everything is synchronous: a tool call writes its request and blocks on
// stdin until the host answers, so generated code calls tools as ordinary
// functions. The host treats every line from here as untrusted input.

const PYODIDE_DIR = Deno.args[0]; // a path ending in "/"
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let pending = new Uint8Array(0);

function send(message) {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

function readLine() {
  const chunk = new Uint8Array(65536);
  for (;;) {
    const newline = pending.indexOf(10);
    if (newline >= 0) {
      const line = decoder.decode(pending.subarray(0, newline));
      pending = pending.slice(newline + 1);
      return line;
    }
    const n = Deno.stdin.readSync(chunk);
    if (n === null) Deno.exit(0); // the host went away
    const joined = new Uint8Array(pending.length + n);
    joined.set(pending);
    joined.set(chunk.subarray(0, n), pending.length);
    pending = joined;
  }
}

function callHost(request) {
  send({ op: "call", request });
  for (;;) {
    const message = JSON.parse(readLine());
    if (message.op === "reply") return message.value;
  }
}

const { loadPyodide } = await import("file://" + PYODIDE_DIR + "pyodide.mjs");
const pyodide = await loadPyodide({ indexURL: PYODIDE_DIR, stdin: () => null });
pyodide.setStdout({ batched: (text) => send({ op: "stream", name: "stdout", text: text + "\n" }) });
pyodide.setStderr({ batched: (text) => send({ op: "stream", name: "stderr", text: text + "\n" }) });

const init = JSON.parse(readLine());
pyodide.registerJsModule("_smolkernel_host", { call: callHost });
pyodide.runPython(init.prelude);
const runCell = pyodide.globals.get("_smolkernel_run");
send({ op: "ready" });

for (;;) {
  const message = JSON.parse(readLine());
  if (message.op !== "run") continue;
  let result;
  try {
    result = runCell(message.code, !!message.internal);
  } catch (error) {
    result = error;
  }
  if (typeof result !== "string") {
    // A failure of the runtime itself (Python's own errors are reported by the
    // prelude): Pyodide is unusable after it, so say so and end; the host restarts.
    send({ op: "done", result: JSON.stringify({ output: null, error: `${result}`, fatal: true }) });
    Deno.exit(70);
  }
  send({ op: "done", result });
}
