// The Python side of the playground, in a worker so that a long-running snippet never freezes
// the page (the page can stop it by ending the worker). Everything is loaded from this site:
// the Pyodide core, chainrule's source (chainrule.zip) and the runner (playground.py).
import { loadPyodide, version as pyodideVersion } from "./vendor/pyodide/pyodide.mjs";

const here = new URL(".", import.meta.url);

async function fetchBytes(name) {
  const response = await fetch(new URL(name, here));
  if (!response.ok) throw new Error(`could not load ${name} (HTTP ${response.status})`);
  return response.arrayBuffer();
}

async function start() {
  const [pyodide, zip, source] = await Promise.all([
    loadPyodide({ indexURL: new URL("vendor/pyodide/", here).href }),
    fetchBytes("chainrule.zip"),
    fetchBytes("playground.py"),
  ]);
  // the working directory (/home/pyodide) is on sys.path: chainrule/ and playground.py go there
  pyodide.unpackArchive(zip, "zip");
  pyodide.FS.writeFile("playground.py", new Uint8Array(source));
  const runner = pyodide.pyimport("playground");
  const versions = JSON.parse(runner.versions());
  versions.pyodide = pyodideVersion;
  return { runner, versions };
}

const ready = start();

ready.then(
  ({ versions }) => postMessage({ type: "ready", versions }),
  (error) => postMessage({ type: "failed", message: String(error && error.stack || error) }),
);

// {id, code, layout}: run the code; {id, layout} alone: redraw the last run for a new layout
// (the code is not run again: its prints, random numbers and step position stay).
onmessage = async (event) => {
  const { id, code, layout } = event.data;
  const { runner } = await ready;
  const started = performance.now();
  let result;
  try {
    const json = code === undefined ? runner.relayout_json(layout) : runner.run_json(code, layout);
    result = JSON.parse(json);
  } catch (error) {
    result = {
      ok: false, printed: "", values: [], view: null,
      error: { type: "InternalError", message: String(error), line: null, text: String(error) },
    };
  }
  postMessage({ type: "result", id, result, ms: performance.now() - started, relayout: code === undefined });
};
