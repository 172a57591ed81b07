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
const walkTitle = $("crp-walk-title");
const walkNote = $("crp-walk-note");
const saveStepButton = $("crp-save-step");
const saveGraphButton = $("crp-save-graph");
const shared = $("crp-shared");
const shareLabel = $("crp-share-label");
const shareText = $("crp-share-text");
const shareStatus = $("crp-share-status");
const presetButtons = [...root.querySelectorAll("[data-preset]")];

const vizReady = vizInstance();
let worker = null;
let versions = null;
let runId = 0;
let runs = 0;
let stuckTimer = null;
let frames = [];
let step = 0;
let frameSVGs = [];
let graphDot = null;
let graphName = "graph";
let layouts = 0;
let workerHasRun = false;  // a restarted worker has no last run to lay out again

function setState(state, message) {
  root.dataset.state = state;
  if (message !== undefined) status.textContent = message;
  runButton.disabled = state !== "ready";
}

function startWorker() {
  setState("loading", "Loading Python… (a few seconds, the first time)");
  const started = performance.now();
  workerHasRun = false;
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
    } else if (message.type === "result" && message.id === runId && message.relayout) {
      await show(message.result, step);  // the same run, drawn again: stay at this step
      layouts += 1;
      root.dataset.layouts = String(layouts);
      setState("ready", "Ready");
    } else if (message.type === "result" && message.id === runId) {
      clearTimeout(stuckTimer);
      stopButton.hidden = true;
      workerHasRun = true;
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

// A new layout redraws the last run (no new run: the step shown stays); before any run, or
// while one is going, the next run uses it.
function relayout() {
  if (root.dataset.state !== "ready" || !workerHasRun) return;
  runId += 1;
  setState("running", "Drawing…");
  worker.postMessage({ id: runId, layout: layoutSelect.value });
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

// Fills every panel; resolves once the graph and the step (the first, or `keep`) are drawn.
async function show(result, keep = 0) {
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
  graphName = view ? `graph-of-${view.root}` : "graph";
  graphDot = view ? view.graph : null;
  saveGraphButton.disabled = !graphDot;
  frames = view ? view.frames : [];
  frameSVGs = [];
  walkTitle.textContent = view?.walk ? `Backward pass of ${view.walk}, step by step`
                                     : "Backward pass, step by step";
  walkNote.textContent = view ? view.walk_note : "Run code that builds a Value.";
  // "not called" (a preview, marked as such), "ran", "differs", or "none" (nothing to walk)
  root.dataset.walk = frames.length ? frames[0].status : "none";
  const drawn = drawInto(graphBox, graphDot, view?.note ?? "Make a Value to see its graph.");
  if (frames.length === 0) {
    caption.textContent = "";
    frameBox.replaceChildren();
    counter.textContent = "–";
    prevButton.disabled = nextButton.disabled = saveStepButton.disabled = true;
  } else {
    await goTo(keep, false);
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
  saveStepButton.disabled = false;
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

function pressPreset(name) {
  for (const b of presetButtons) b.setAttribute("aria-pressed", String(b.dataset.preset === name));
}

function choosePreset(name) {
  editor.value = PRESETS[name];
  pressPreset(name);
  run();
}

// --- sharing: the code travels in the link's fragment (after #), which no browser sends ---

function toBase64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "===".slice((b64.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function through(bytes, transform) {
  const stream = new Blob([bytes]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The code, compressed (deflate) and base64url-encoded: `#code=...`, plus the layout.
async function fragmentFor(code, embed) {
  const packed = await through(new TextEncoder().encode(code), new CompressionStream("deflate-raw"));
  const params = new URLSearchParams({ code: toBase64url(packed) });
  if (layoutSelect.value !== "auto") params.set("layout", layoutSelect.value);
  if (embed) params.set("embed", "1");
  return "#" + params.toString();
}

async function readFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const packed = params.get("code");
  const code = packed === null ? null : new TextDecoder().decode(
    await through(fromBase64url(packed), new DecompressionStream("deflate-raw")));
  return { code, layout: params.get("layout"), embed: params.get("embed") === "1" };
}

function pageURL(fragment) {
  return new URL(fragment, location.href.split("#")[0]).href;
}

async function share(kind) {
  delete shared.dataset.kind;  // set again once the new text is in
  const link = pageURL(await fragmentFor(editor.value, kind === "embed"));
  const text = kind === "embed"
    ? `<iframe src="${link}" title="chainrule playground" width="100%" height="720" ` +
      `style="border: 1px solid #ccc"></iframe>`
    : link;
  shareLabel.textContent = kind === "embed" ? "HTML to embed this code in a page or slides"
                                            : "Link to this page with this code";
  shareText.value = text;
  shared.hidden = false;
  shared.dataset.kind = kind;
  shareText.select();
  try {
    await navigator.clipboard.writeText(text);
    shareStatus.textContent = "Copied.";
  } catch {
    shareStatus.textContent = "Select it and copy (Ctrl+C).";
  }
}

// --- downloads: the graph, and the step shown with its caption, as standalone SVG files ---

function saveFile(name, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}

const SVG_NS = "http://www.w3.org/2000/svg";
const CAPTION_PX = 14;  // the caption's font size; a line is 1.35 times as tall

// The frame with its caption above it: a saved picture is seen alone, so it carries its words.
function withCaption(svgText, text) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const picture = doc.documentElement;
  const [, , width, height] = picture.getAttribute("viewBox").split(/\s+/).map(Number);
  const lines = text.split("\n");
  const lineHeight = CAPTION_PX * 1.35;
  const top = lines.length * lineHeight + CAPTION_PX;
  const wide = Math.max(width, 8 + Math.max(...lines.map((l) => l.length)) * CAPTION_PX * 0.62);
  const outer = doc.createElementNS(SVG_NS, "svg");
  outer.setAttribute("xmlns", SVG_NS);
  outer.setAttribute("width", `${Math.ceil(wide)}pt`);
  outer.setAttribute("height", `${Math.ceil(height + top)}pt`);
  outer.setAttribute("viewBox", `0 0 ${Math.ceil(wide)} ${Math.ceil(height + top)}`);
  const background = doc.createElementNS(SVG_NS, "rect");
  for (const [k, v] of [["width", "100%"], ["height", "100%"], ["fill", "#fff"]]) {
    background.setAttribute(k, v);
  }
  const caption = doc.createElementNS(SVG_NS, "text");
  caption.setAttribute("font-family", "monospace");
  caption.setAttribute("font-size", String(CAPTION_PX));
  caption.setAttribute("xml:space", "preserve");
  lines.forEach((line, k) => {
    const span = doc.createElementNS(SVG_NS, "tspan");
    span.setAttribute("x", "8");
    span.setAttribute("y", String(Math.round((k + 1) * lineHeight)));
    span.textContent = line;
    caption.append(span);
  });
  picture.setAttribute("y", String(Math.round(top)));
  outer.append(background, caption, picture);
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(outer);
}

async function saveGraph() {
  if (!graphDot) return;
  const viz = await vizReady;
  saveFile(`${graphName}.svg`, viz.renderString(graphDot, { format: "svg" }));
}

async function saveStep() {
  if (frames.length === 0) return;
  const viz = await vizReady;
  const frame = frames[step];
  const svg = viz.renderString(frame.dot, { format: "svg" });
  const last = step === frames.length - 1;
  const name = last ? "backward-done" : `backward-step-${step + 1}-of-${frames.length - 1}`;
  saveFile(`${name}.svg`, withCaption(svg, frame.caption));
}

// --- the embed view: editor, values and walkthrough, without the site around them ---

function embedView() {
  document.documentElement.classList.add("crp-embedded");
  const full = $("crp-full");
  full.hidden = false;
  const params = new URLSearchParams(location.hash.slice(1));
  params.delete("embed");
  full.href = pageURL("#" + params.toString());
}

async function start() {
  let fromLink = null;
  if (location.hash.length > 1) {
    try {
      fromLink = await readFragment(location.hash);
    } catch {
      status.textContent = "The code in this link could not be read; here is an example instead.";
    }
  }
  if (fromLink?.embed) embedView();
  if (fromLink?.code != null) {
    editor.value = fromLink.code;
    pressPreset(null);
  } else {
    editor.value = PRESETS.tanh;
  }
  if (["auto", "LR", "TB"].includes(fromLink?.layout)) layoutSelect.value = fromLink.layout;
}

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
editor.addEventListener("input", () => {  // no longer the example's code, nor the shared one
  pressPreset(null);
  shared.hidden = true;
});
runButton.addEventListener("click", run);
layoutSelect.addEventListener("change", relayout);
for (const [id, kind] of [["crp-link", "link"], ["crp-embed-code", "embed"]]) {
  $(id).addEventListener("click", () => share(kind).catch((error) => {
    shared.hidden = false;
    shareText.value = "";
    shareStatus.textContent = "This browser cannot make the link: " + error;
  }));
}
saveGraphButton.addEventListener("click", saveGraph);
saveStepButton.addEventListener("click", saveStep);
stopButton.addEventListener("click", stop);
prevButton.addEventListener("click", () => goTo(step - 1));
nextButton.addEventListener("click", () => goTo(step + 1));
for (const b of presetButtons) {
  b.addEventListener("click", () => choosePreset(b.dataset.preset));
}

await start();
if (location.protocol === "file:") {
  setState("failed", "Open this page through a web server (mkdocs serve, or " +
    "python -m http.server -d site): browsers do not run WebAssembly workers from file:// pages.");
} else {
  startWorker();
}
