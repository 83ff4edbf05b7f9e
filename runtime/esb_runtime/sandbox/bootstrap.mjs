// Sandbox entry point for Node.js: aws-lambda-ric plus the trace id the RIE drops, restored per invocation.
// Usage (as the RIE's runtime command): node bootstrap.mjs <file.export>; LAMBDA_RUNTIME_DIR holds node_modules.
import { existsSync } from "node:fs";
import { createRequire, register } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

// The manager carries X-Amzn-Trace-Id here, inside the client context, because the RIE drops the header.
const TRACE_KEY = "x-esb-trace-id";
const CONTEXT_HEADER = "lambda-runtime-client-context";
const TRACE_HEADER = "lambda-runtime-trace-id";

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
  const nativeClient = createRequire(ricMain)("./rapid-client.node");
  const next = nativeClient.next.bind(nativeClient);
  nativeClient.next = async () => {
    const invocation = await next();
    return { ...invocation, headers: restoreTrace(invocation.headers || {}) };
  };
  const { run } = await import(pathToFileURL(ricMain).href);
  await run(process.cwd(), handler);
}

if (import.meta.url === pathToFileURL(process.argv[1] || "").href) {
  await main(process.argv);
}
