// Sandbox entry point for Node.js: aws-lambda-ric plus the trace id the RIE drops, restored per invocation,
// and the invocation's true figures measured (see bootstrap.py's Meter, the Python twin).
// Usage (as the RIE's runtime command): node bootstrap.mjs <file.export>; LAMBDA_RUNTIME_DIR holds node_modules.
import { existsSync, writeSync } from "node:fs";
import { createRequire, register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

// The manager carries X-Amzn-Trace-Id here, inside the client context, because the RIE drops the header.
const TRACE_KEY = "x-esb-trace-id";
const CONTEXT_HEADER = "lambda-runtime-client-context";
const TRACE_HEADER = "lambda-runtime-trace-id";
// The manager's log pump reads this marker (esb_runtime.sandbox.metrics; the same as bootstrap.py's).
export const METRICS_MARKER = "\x1fESB-METRICS ";
// Written as each invocation begins: its request id and trace, so the pump attributes its lines (bootstrap.py).
export const BEGIN_MARKER = "\x1fESB-BEGIN ";
const REQUEST_ID_HEADER = "lambda-runtime-aws-request-id";

export function beginLine(requestId, trace) {
  const flat = String(trace || "").replace(/[\t\r\n]/g, " ");
  return `${BEGIN_MARKER}${requestId}\t${flat}\n`;
}

// Remove the trace carrier from the invocation's headers and hand it to the ric as Lambda does (its own header).
export function restoreTrace(headers) {
  const raw = headers[CONTEXT_HEADER];
  if (!raw) return headers;
  let data;
  try {
    data = JSON.parse(raw);
  } catch {
    return headers; // let the ric report the malformed context as usual
  }
  if (!data || typeof data.custom !== "object" || data.custom === null || !(TRACE_KEY in data.custom)) {
    return headers;
  }
  const trace = data.custom[TRACE_KEY];
  delete data.custom[TRACE_KEY];
  if (Object.keys(data.custom).length === 0) delete data.custom;
  const out = { ...headers };
  // Only the carrier was there: the caller sent no client context at all.
  if (Object.keys(data).length === 0) delete out[CONTEXT_HEADER];
  else out[CONTEXT_HEADER] = JSON.stringify(data);
  if (trace) out[TRACE_HEADER] = String(trace);
  return out;
}

const round2 = (ms) => Math.round(ms * 100) / 100;

// The marker line for one invocation; max memory is the runtime's peak RSS (resourceUsage: KiB). The request id
// pairs it with its REPORT, which the RIE may print after the next invocation has begun.
export function measuredLine(durationMs, initMs, maxRssKiB, requestId = null) {
  const figures = { duration_ms: round2(durationMs), max_memory_mb: Math.ceil(maxRssKiB / 1024) };
  if (requestId) figures.request_id = String(requestId);
  if (initMs !== null) figures.init_ms = round2(initMs);
  return `${METRICS_MARKER}${JSON.stringify(figures)}\n`;
}

// The ric talks to the RIE through its native client: next() waits for an invocation, done()/error() answer it.
// Wrapped in place: the trace is restored on each invocation; the init (process start to the first next(), the
// handler loaded by then) and each invocation (received to answered) are timed, and said on stdout just before
// the answer is posted, so the RIE's REPORT line comes after it. Streamed responses bypass done(): the RIE's
// REPORT stands for them.
export function wrapNativeClient(client, seams = {}) {
  const now = seams.now || (() => performance.now()); // ms since this process started
  const write = seams.write || ((text) => writeSync(1, text)); // synchronous: ahead of the answer
  const maxRssKiB = seams.maxRssKiB || (() => process.resourceUsage().maxRSS);
  const [next, done, error] = [client.next.bind(client), client.done.bind(client), client.error.bind(client)];
  let initMs = null;
  let started = false;
  let invokedAt = null;
  const report = (requestId) => {
    if (invokedAt === null) return;
    write(measuredLine(now() - invokedAt, initMs, maxRssKiB(), requestId));
    [initMs, invokedAt] = [null, null]; // the init is reported once: with the cold call
  };
  client.next = async () => {
    if (!started) [started, initMs] = [true, now()];
    const invocation = await next();
    invokedAt = now();
    const headers = restoreTrace(invocation.headers || {});
    write(beginLine(headers[REQUEST_ID_HEADER] || "", headers[TRACE_HEADER]));
    return { ...invocation, headers };
  };
  client.done = (...args) => {
    report(args[0]); // the native client's done(id, body) and error(id, ...): the request id first
    return done(...args);
  };
  client.error = (...args) => {
    report(args[0]);
    return error(...args);
  };
  return client;
}

// Lambda's NODE_PATH: layers, then the runtime's SDK; CommonJS reads it, ES modules need the resolve hook.
function moduleRoots() {
  return (process.env.NODE_PATH || "").split(path.delimiter).filter((dir) => path.basename(dir) === "node_modules");
}

async function main(argv) {
  const handler = argv[2];
  if (!handler) throw new Error("usage: node bootstrap.mjs <file.export>");
  const runtimeDir = process.env.LAMBDA_RUNTIME_DIR;
  // The toolchain links NODE_PATH's packages into a node_modules beside the code when it can (process engine):
  // then Node's own lookup finds them and the hook, a loader thread costing ~30 ms of cold start, is skipped.
  const linked = existsSync(path.join(process.cwd(), "..", "node_modules", ".esb-linked"));
  if (!linked && typeof register === "function") {
    register(new URL("./node_resolve.mjs", import.meta.url), { data: { roots: moduleRoots() } });
  }
  const ricMain = createRequire(path.join(runtimeDir, "esb-bootstrap.js")).resolve("aws-lambda-ric");
  // The ric loads its native client through require(), whose cache hands it this very object: wrap next() once.
  wrapNativeClient(createRequire(ricMain)("./rapid-client.node"));
  const { run } = await import(pathToFileURL(ricMain).href);
  await run(process.cwd(), handler);
}

if (import.meta.url === pathToFileURL(process.argv[1] || "").href) {
  await main(process.argv);
}
