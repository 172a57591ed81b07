// The playground page: the editor, the worker that runs Python (worker.js), and the pictures.
// Python (chainrule itself, in Pyodide) computes everything shown: values, gradients, the DOT
// text of the graph and of each backward step, the captions. This file only draws the DOT text
// with Graphviz-in-WebAssembly and wires the buttons.
import { instance as vizInstance } from "./vendor/viz/viz.js";

const PRESETS = {
  tanh: `from chainrule import Value

x = Value(2.0, label="x")
w = Value(-3.0, label="w")
b = Value(6.8813735870195432, label="b")
y = (x*w + b).tanh()
y.backward()

print("y =", y.data)
print("dy/dx =", x.grad)
print("dy/dw =", w.grad)
print("dy/db =", b.grad)
`,
  fanout: `from chainrule import Value

# x is used twice: it receives two shares, and their sum is dy/dx = 2x
x = Value(3.0, label="x")
y = x * x
y.backward()

print("y =", y.data)
print("dy/dx =", x.grad)
`,
  neuron: `from chainrule import Value

# inputs x1, x2; weights w1, w2; bias b
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
n = x1*w1 + x2*w2 + b
o = n.tanh()
o.backward()

print("o =", o.data)
print("do/dw1 =", w1.grad, " do/dw2 =", w2.grad)
`,
  softmax: `from chainrule import Value

# softmax of three logits, then the cross-entropy loss for class 0
a, b, c = Value(2.0, label="a"), Value(1.0, label="b"), Value(0.1, label="c")
ea, eb, ec = a.exp(), b.exp(), c.exp()
total = ea + eb + ec
p0 = ea / total
loss = -p0.log()
loss.backward()

print("p0 =", p0.data)
print("loss =", loss.data)
print("grads:", a.grad, b.grad, c.grad, "(= p - onehot)")
`,
};

const STUCK_MS = 3000;  // after this a run shows the Stop button

const root = document.querySelector(".crp");
const $ = (id) => document.getElementById(id);
const editor = $("crp-code");
const runButton = $("crp-run");
const stopButton = $("crp-stop");
const status = $("crp-status");
const about = $("crp-about");
const errorBox = $("crp-error");
const valuesBody = $("crp-values").querySelector("tbody");
const printed = $("crp-printed");
const graphBox = $("crp-graph");
const graphTitle = $("crp-graph-title");
const caption = $("crp-caption");
const frameBox = $("crp-frame");
const prevButton = $("crp-prev");
const nextButton = $("crp-next");
const counter = $("crp-counter");
const layoutSelect = $("crp-layout");

const vizReady = vizInstance();
let worker = null;
let versions = null;
let runId = 0;
let runs = 0;
let stuckTimer = null;
let frames = [];
let step = 0;
let frameSVGs = [];

function setState(state, message) {
  root.dataset.state = state;
  if (message !== undefined) status.textContent = message;
  runButton.disabled = state !== "ready";
}

function startWorker() {
  setState("loading", "Loading Python… (a few seconds, the first time)");
  const started = performance.now();
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = async (event) => {
    const message = event.data;
    if (message.type === "ready") {
      versions = message.versions;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      about.textContent = `Python ${versions.python} (Pyodide ${versions.pyodide}) and ` +
        `chainrule ${versions.chainrule}, running in this page; started in ${seconds} s`;
      setState("ready", "Ready");
      if (runs === 0) run();
    } else if (message.type === "failed") {
      setState("failed", "Python could not start: " + message.message.split("\n")[0]);
    } else if (message.type === "result" && message.id === runId) {
      clearTimeout(stuckTimer);
      stopButton.hidden = true;
      await show(message.result);
      runs += 1;
      root.dataset.runs = String(runs);
      root.dataset.result = message.result.ok ? "ok" : "error";
      setState("ready", `Ran in ${Math.round(message.ms)} ms` +
        (message.result.ok ? "" : `: ${message.result.error.type}`));
    }
  };
  worker.onerror = (event) => {
    setState("failed", "Python could not start: " + (event.message || "the worker failed"));
  };
}

function run() {
  if (root.dataset.state !== "ready") return;
  runId += 1;
  setState("running", "Running…");
  worker.postMessage({ id: runId, code: editor.value, layout: layoutSelect.value });
  stuckTimer = setTimeout(() => { stopButton.hidden = false; }, STUCK_MS);
}

function stop() {
  clearTimeout(stuckTimer);
  stopButton.hidden = true;
  worker.terminate();
  const result = {
    ok: false, printed: "", values: [], view: null,
    error: { type: "Stopped", line: null,
             text: "Stopped: your code was still running (an endless loop?), so Python was " +
                   "ended. It restarts now; your code is kept." },
  };
  startWorker();
  show(result).then(() => {
    runs += 1;
    root.dataset.runs = String(runs);
    root.dataset.result = "error";
  });
}

function cell(text, className, exact) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  if (exact !== undefined) { td.title = exact; td.dataset.exact = exact; }
  return td;
}

// Fills every panel; resolves once the graph and the first step are drawn.
async function show(result) {
  delete root.dataset.step;
  delete root.dataset.current;
  errorBox.hidden = result.ok;
  errorBox.textContent = result.ok ? "" : result.error.text;
  printed.textContent = result.printed;
  valuesBody.replaceChildren();
  for (const v of result.values) {
    const tr = document.createElement("tr");
    tr.dataset.name = v.name;
    const name = v.label && v.label !== v.name ? `${v.name} ("${v.label}")` : v.name;
    tr.append(cell(name), cell(v.data, "crp-data", v.exact_data),
              cell(v.requires_grad ? v.grad : "–", "crp-grad", v.exact_grad));
    valuesBody.append(tr);
  }
  if (result.values.length === 0) {
    const tr = document.createElement("tr");
    tr.className = "crp-empty";
    const td = cell("No variable holds a Value yet.");
    td.colSpan = 3;
    tr.append(td);
    valuesBody.append(tr);
  }
  if (!result.ok && result.error.line) selectLine(result.error.line);
  const view = result.view;
  graphTitle.textContent = view ? `The graph of ${view.root}` : "The graph";
  frames = view ? view.frames : [];
  frameSVGs = [];
  const drawn = drawInto(graphBox, view ? view.graph : null,
                         view?.note ?? "Make a Value to see its graph.");
  if (frames.length === 0) {
    caption.textContent = view && view.note ? view.note : "Run code that builds a Value.";
    frameBox.replaceChildren();
    counter.textContent = "–";
    prevButton.disabled = nextButton.disabled = true;
  } else {
    await goTo(0, false);
  }
  await drawn;
}

function selectLine(line) {
  const lines = editor.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
}

async function svgFor(dot) {
  const viz = await vizReady;
  const svg = viz.renderSVGElement(dot);
  // Fit the panel's width, but never blow a small graph up past 1.25x its natural size (a
  // tall one would not fit the screen), nor shrink a wide one below 0.8x (its text would be
  // unreadable): the panel scrolls instead.
  const width = parseFloat(svg.getAttribute("width")) * 96 / 72;  // pt -> px
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  if (width) {
    svg.style.maxWidth = `${Math.round(width * 1.25)}px`;
    svg.style.minWidth = `${Math.round(width * 0.8)}px`;
  }
  return svg;
}

async function drawInto(box, dot, note) {
  if (!dot) {
    const p = document.createElement("p");
    p.className = "crp-note";
    p.textContent = note;
    box.replaceChildren(p);
    return;
  }
  try {
    box.replaceChildren(await svgFor(dot));
  } catch (error) {
    const p = document.createElement("p");
    p.className = "crp-note";
    p.textContent = "Graphviz could not draw this graph: " + error;
    box.replaceChildren(p);
  }
}

// Scrolls the page just enough to show the highlighted node below the sticky caption.
function revealCurrent(name) {
  const node = [...frameBox.querySelectorAll("g.node")]
    .find((g) => g.querySelector("title")?.textContent === name);
  if (!node) return;
  const rect = node.getBoundingClientRect();
  const top = document.querySelector(".crp-walk__sticky").getBoundingClientRect().bottom;
  if (rect.top < top || rect.bottom > window.innerHeight) {
    const wanted = (top + window.innerHeight - rect.height) / 2;
    window.scrollBy({ top: rect.top - wanted, behavior: "instant" });
  }
}

async function goTo(k, reveal = true) {
  if (frames.length === 0) return;
  step = Math.max(0, Math.min(frames.length - 1, k));
  const frame = frames[step];
  const last = step === frames.length - 1;
  caption.textContent = frame.caption;
  counter.textContent = last ? `Done (${frames.length - 1} steps)` : `Step ${step + 1} of ${frames.length - 1}`;
  prevButton.disabled = step === 0;
  nextButton.disabled = last;
  const shown = frames;
  frameSVGs[step] ??= svgFor(frame.dot);
  let svg;
  try {
    svg = await frameSVGs[step];
  } catch (error) {
    frameBox.textContent = "Graphviz could not draw this step: " + error;
    return;
  }
  if (shown !== frames || frames[step] !== frame) return;  // a newer run or step won the race
  frameBox.replaceChildren(svg);
  if (reveal && frame.current) revealCurrent(frame.current);
  root.dataset.step = String(step);
  root.dataset.current = frame.current ?? "";
}

function choosePreset(name) {
  editor.value = PRESETS[name];
  for (const b of root.querySelectorAll("[data-preset]")) {
    b.setAttribute("aria-pressed", String(b.dataset.preset === name));
  }
  run();
}

editor.value = PRESETS.tanh;
editor.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    run();
  } else if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
    // four spaces, as Python wants; Escape first leaves the editor with the keyboard
    event.preventDefault();
    editor.setRangeText("    ", editor.selectionStart, editor.selectionEnd, "end");
  } else if (event.key === "Escape") {
    editor.blur();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.target.closest("textarea, input, select") || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "ArrowRight") goTo(step + 1);
  else if (event.key === "ArrowLeft") goTo(step - 1);
});
runButton.addEventListener("click", run);
layoutSelect.addEventListener("change", run);
stopButton.addEventListener("click", stop);
prevButton.addEventListener("click", () => goTo(step - 1));
nextButton.addEventListener("click", () => goTo(step + 1));
for (const b of root.querySelectorAll("[data-preset]")) {
  b.addEventListener("click", () => choosePreset(b.dataset.preset));
}

if (location.protocol === "file:") {
  setState("failed", "Open this page through a web server (mkdocs serve, or " +
    "python -m http.server -d site): browsers do not run WebAssembly workers from file:// pages.");
} else {
  startWorker();
}
