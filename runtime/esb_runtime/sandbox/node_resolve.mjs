// ES module resolve hook: bare imports the default resolution misses are looked up in Lambda's NODE_PATH
// directories (function dependencies, layers' nodejs/node_modules, the runtime's AWS SDK), as on Lambda.
import path from "node:path";
import { pathToFileURL } from "node:url";

let roots = [];

export async function initialize(data) {
  roots = (data && data.roots) || [];
}

function isBare(specifier) {
  return !/^([./]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!isBare(specifier) || (error && error.code !== "ERR_MODULE_NOT_FOUND")) throw error;
    for (const root of roots) {
      // Resolve as if imported from a file beside `root`: Node then looks inside root itself.
      const parentURL = pathToFileURL(path.join(path.dirname(root), "esb-resolve.mjs")).href;
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {
        // not in this root; try the next one
      }
    }
    throw error;
  }
}
