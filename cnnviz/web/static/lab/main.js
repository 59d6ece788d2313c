// The page: starts the lab, the Draw view (sketchpad, prediction, what the model sees,
// occlusion, saliency), the model switch, the random test digit (or a teacher's picture), the
// tabs, and mounts the panels (Inside, Attack, Classes) when their modules are present.

import { createLab } from "./runtime.js";
import { Sketchpad } from "./draw.js";
import { prepareDrawing, FIELD } from "./prepare.js";
import { occlusionMap } from "./occlusion.js";
import { saliencyMap, perPixel } from "./saliency.js";
import { paint, paintGrey, paintPixels, colourBar } from "./colormap.js";
import { hasPictures, panelsDrawn } from "./panel_util.js";
import { addHooks, markInteractive, markReady, markFailed, withModel, plain } from "./testing.js";

const $ = (id) => document.getElementById(id);
const PANELS = [
  ["inside", "./inside.js"],
  ["attack", "./attack_view.js"],
  ["classes", "./classes.js"],
];

function percent(p) {
  return `${(100 * p).toFixed(1)} %`;
}

// Whether a network reads drawings: 1 x 28 x 28 inputs, as MNIST's digits.
function drawable(shape) {
  return shape[0] === 1 && shape[1] === FIELD && shape[2] === FIELD;
}

// Whether the site's sample (digits or a teacher's pictures, H x W x C) fits the network.
function sampleFits(lab) {
  if (!lab.digits) return false;
  const [h, w, c] = lab.digits.shape;
  const [C, H, W] = lab.model.input.shape;
  return c === C && h === H && w === W;
}

// A site exported with a teacher's pictures (--images) speaks of pictures, not MNIST digits.
function describePictures(lab) {
  const [c, h, w] = lab.model.input.shape;
  const count = lab.digits.count;
  $("random-digit").textContent = "Random image";
  $("pad-title").textContent = drawable(lab.model.input.shape) ? "Your drawing or picture" : "The picture";
  document.querySelector(".intro").textContent =
    `Press "Random image" for one of the ${count} pictures: the ${lab.model.label} network reads it. ` +
    "It runs here, in your browser: nothing is sent anywhere.";
  $("pad-help").textContent = drawable(lab.model.input.shape)
    ? 'Draw with a mouse, a finger or a pen, or press "Random image".'
    : `This network reads ${c === 1 ? "grey" : "colour"} pictures of ${w} x ${h} pixels, not drawings.`;
  if (!drawable(lab.model.input.shape)) $("seen-help").textContent = `The picture as the network gets it: ${w} x ${h} pixels.`;
  $("top3").setAttribute("aria-label", "Three most likely classes");
  $("occlusion-title").textContent = "Occlusion: where hiding part of the picture hurts";
}

function showError(message) {
  const box = $("error");
  box.hidden = false;
  box.textContent = message;
  $("status").textContent = "The lab could not start.";
  $("prediction").textContent = "No prediction: the network could not start.";
  for (const id of ["random-digit", "model-select"]) $(id).disabled = true;
}

function makeState() {
  const listeners = new Set();
  return {
    x: null,
    pixels: new Float32Array(FIELD * FIELD),
    label: null,
    prediction: null,
    outputs: null,
    source: "drawing",
    digitIndex: null,
    modelId: null,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    notify() {
      for (const fn of listeners) {
        try {
          fn(this);
        } catch (error) {
          console.error(error);
        }
      }
    },
  };
}

// --- The address: ?view=draw|inside|attack|classes&model=<id>&digit=<i>&embed=1 ----------------
const VIEWS = ["draw", "inside", "attack", "classes"];

function readAddress() {
  const params = new URLSearchParams(window.location.search);
  const asked = { embed: params.get("embed") === "1", app: params.get("app") === "1", notes: [] };
  const view = params.get("view");
  if (view !== null) {
    if (VIEWS.includes(view)) asked.view = view;
    else asked.notes.push(`no view "${view}" (draw, inside, attack or classes)`);
  }
  if (params.get("model") !== null) asked.model = params.get("model");
  if (params.get("digit") !== null) asked.digit = params.get("digit");
  return asked;
}

function noteAddress(notes) {
  if (notes.length === 0) return;
  const note = $("address-note");
  note.textContent = `Ignored in the address: ${notes.join("; ")}.`;
  note.hidden = false;
}

// Embedded (an iframe in the docs or the app): no page header or footer, links open the top window.
function embed() {
  document.documentElement.classList.add("embedded");
  for (const link of document.querySelectorAll("a[href]")) link.target = "_top";
}

// The address follows the open tab, the network and the test digit shown (not in embed mode).
function followAddress(state) {
  const update = () => {
    const url = new URL(window.location.href);
    const tab = document.querySelector('[role="tab"][aria-selected="true"]');
    url.searchParams.set("view", tab ? tab.id.slice(4) : "draw");
    url.searchParams.set("model", state.modelId);
    if (state.source === "digit" && state.digitIndex !== null) url.searchParams.set("digit", String(state.digitIndex));
    else url.searchParams.delete("digit");
    if (url.href !== window.location.href) window.history.replaceState(null, "", url);
  };
  state.subscribe(update);
  document.addEventListener("cnnviz:tab", update);
  update();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const other of tabs) {
      const on = other === tab;
      other.setAttribute("aria-selected", String(on));
      other.tabIndex = on ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    const panel = $(tab.getAttribute("aria-controls"));
    panel.dispatchEvent(new CustomEvent("cnnviz:show", { detail: { tab: tab.id.slice(4) } }));
    document.dispatchEvent(new CustomEvent("cnnviz:tab", { detail: { tab: tab.id.slice(4) } }));
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) select(tabs[(i + step + tabs.length) % tabs.length], true);
      if (event.key === "Home") select(tabs[0], true);
      if (event.key === "End") select(tabs[tabs.length - 1], true);
    });
  });
  return (name) => select($(`tab-${name}`), false);
}

class DrawView {
  constructor(lab, state) {
    this.lab = lab;
    this.state = state;
    this.inputDirty = false;
    this.mapsDirty = false;
    this.running = null;
    this.pad = new Sketchpad($("sketchpad"), {
      onChange: () => this.drawn(),
      onStrokeStart: () => this.forgetDigit(),
    });
    $("clear").addEventListener("click", () => this.clear());
    $("random-digit").addEventListener("click", () => this.randomDigit());
    for (const id of ["patch", "stride"]) {
      $(id).addEventListener("input", () => {
        this.syncSliders();
        this.mapsDirty = true;
        this.schedule();
      });
    }
    this.syncSliders();
    this.showEmpty();
  }

  syncSliders() {
    const patch = Number($("patch").value);
    const stride = $("stride");
    stride.max = String(Math.min(7, patch));
    if (Number(stride.value) > patch) stride.value = String(patch);
    $("patch-value").textContent = String(patch);
    $("stride-value").textContent = stride.value;
  }

  forgetDigit() {
    this.state.source = "drawing";
    this.state.digitIndex = null;
    this.state.label = null;
    $("truth").textContent = "";
  }

  drawn() {
    this.inputDirty = true;
    this.schedule();
  }

  clear() {
    this.pad.clear();
    this.forgetDigit();
    this.drawn();
  }

  randomDigit() {
    const digits = this.lab.digits;
    const i = Math.floor(Math.random() * digits.count);
    this.loadDigit(i);
  }

  loadDigit(i) {
    const digits = this.lab.digits;
    const [h, w, c] = digits.shape;
    const label = digits.label(i);
    const name = label === null ? null : this.lab.model.classes[label];
    this.state.source = "digit";
    this.state.digitIndex = i;
    this.state.label = label;
    const truth = name === null ? "Its true label is not known (its folder is not a class name)." : `Its true label: ${name}.`;
    $("truth").textContent = digits.kind === "pictures"
      ? `Picture ${digits.name(i)} (${i + 1} of ${digits.count}). ${truth}`
      : `Test digit #${digits.index(i)} from ${digits.source}. ${truth}`;
    // A digit, or a grey 28 x 28 picture for a network that reads drawings, is shown as ink
    // (dark where the network sees bright), so a stroke continues it.
    if (drawable(this.lab.model.input.shape)) this.pad.showDigit(digits.pixels(i), h);
    else this.pad.showPicture(digits.pixels(i), h, w, c);
    this.drawn();
  }

  // At most one computation at a time; the newest input wins, the maps come after it.
  schedule() {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        for (let guard = 0; guard < 1000; guard += 1) {
          if (this.inputDirty) {
            this.inputDirty = false;
            await this.predict();
            this.mapsDirty = true;
          } else if (this.mapsDirty && !this.pad.active) {
            this.mapsDirty = false;
            await this.maps();
          } else {
            break;
          }
        }
      } catch (error) {
        console.error(error);
        $("status").textContent = `Something went wrong: ${error.message}`;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  // Done when no stroke waits for its animation frame (a mouse-up's update comes one frame
  // later) and no computation runs.
  async idle() {
    for (let guard = 0; guard < 1000 && (this.running || this.pad.frame); guard += 1) {
      await (this.running ?? new Promise((resolve) => requestAnimationFrame(resolve)));
    }
  }

  readInput() {
    const state = this.state;
    if (state.source === "digit") {
      state.x = this.lab.digits.image(state.digitIndex);
      state.pixels = this.lab.toPixels(state.x).subarray(0, FIELD * FIELD);
      return;
    }
    const shape = this.lab.model.input.shape;
    const image = this.pad.imageData();
    const prepared = prepareDrawing(image.data, image.width, image.height);
    state.pixels = prepared.pixels;
    state.x = prepared.empty || !drawable(shape) ? null : this.lab.toModelSpace(prepared.pixels);
  }

  async predict() {
    const started = performance.now();
    this.readInput();
    const state = this.state;
    const prepared = performance.now();
    if (!state.x) {
      state.prediction = null;
      state.outputs = null;
      this.showEmpty();
      state.notify();
      return { prepare: prepared - started, forward: 0, total: performance.now() - started };
    }
    const result = await this.lab.forward(state.x, 1);
    const ran = performance.now();
    const order = [...result.probs.keys()].sort((a, b) => result.probs[b] - result.probs[a]);
    state.prediction = { probs: result.probs, logits: result.logits, top: order[0], order };
    state.outputs = result.outputs;
    this.showPrediction();
    state.notify();
    return { prepare: prepared - started, forward: ran - prepared, total: performance.now() - started };
  }

  showEmpty() {
    const shape = this.lab.model.input.shape;
    const button = $("random-digit").textContent;
    let prompt = "Draw a digit to start.";
    if (!drawable(shape)) {
      prompt = sampleFits(this.lab)
        ? `This network takes ${shape.join(" x ")} images: press "${button}".`
        : `This network takes ${shape.join(" x ")} images, and this site has none: export it with --images DIR.`;
    }
    $("prediction").textContent = prompt;
    $("top3").replaceChildren();
    paintGrey($("seen"), new Float32Array(FIELD * FIELD), FIELD, FIELD);
    for (const id of ["occlusion-map", "saliency-map"]) {
      const canvas = $(id);
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    }
    $("occlusion-help").textContent = "";
    $("saliency-help").textContent = "";
  }

  showPrediction() {
    const { prediction, pixels } = this.state;
    const classes = this.lab.model.classes;
    const top = prediction.top;
    $("prediction").textContent = `${classes[top]}: ${percent(prediction.probs[top])}`;
    const items = prediction.order.slice(0, 3).map((k) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "bar-name";
      name.textContent = classes[k];
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.className = "bar-fill";
      fill.style.width = `${(100 * prediction.probs[k]).toFixed(1)}%`;
      bar.append(fill);
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = percent(prediction.probs[k]);
      item.append(name, bar, value);
      return item;
    });
    const longest = Math.max(...classes.map((name) => name.length));
    $("top3").style.setProperty("--name-width", `min(10rem, max(1.5rem, ${longest + 1}ch))`);
    $("top3").replaceChildren(...items);
    const [c, h, w] = this.lab.model.input.shape;
    if (drawable([c, h, w])) paintGrey($("seen"), pixels, FIELD, FIELD);
    else paintPixels($("seen"), this.lab.toPixels(this.state.x), c, h, w);
  }

  async maps() {
    const state = this.state;
    if (!state.x || !state.prediction || $("draw-view").hidden) return null;
    const started = performance.now();
    const patch = Number($("patch").value);
    const stride = Number($("stride").value);
    const top = state.prediction.top;
    const name = this.lab.model.classes[top];
    const [, height, width] = this.lab.model.input.shape;
    const size = Math.min(patch, height, width);
    const occluded = await occlusionMap(this.lab, state.x, top, { patch: size, stride: Math.min(stride, size) });
    const occludedAt = performance.now();
    paint($("occlusion-map"), occluded.probability, occluded.nx, occluded.ny, { cmap: "magma", low: 0, high: 1 });
    colourBar($("occlusion-bar"), { cmap: "magma", low: 0, high: 1, ticks: ["100 %", "50 %", "0 %"], label: `probability of ${name}` });
    const lowest = Math.min(...occluded.probability);
    $("occlusion-help").textContent =
      `Probability of ${name} with a ${size} x ${size} grey patch at each place (${occluded.ny} x ${occluded.nx} places, ` +
      `stride ${Math.min(stride, size)}). Dark: hiding that part makes the network unsure. Lowest: ${percent(lowest)}.`;
    if (!this.lab.hasGradient()) {
      $("saliency-help").textContent = "This network has no gradient graph on this site: no saliency map.";
      return { occlusion: occludedAt - started, saliency: 0, total: performance.now() - started };
    }
    const salient = perPixel(await saliencyMap(this.lab, state.x, top), this.lab.model.input.shape);
    const high = Math.max(...salient) || 1;
    paint($("saliency-map"), salient, width, height, { cmap: "hot", low: 0, high });
    colourBar($("saliency-bar"), {
      cmap: "hot",
      low: 0,
      high,
      ticks: [high.toPrecision(3), (high / 2).toPrecision(3), "0"],
      label: `|d logit(${name}) / d pixel|`,
    });
    $("saliency-help").textContent =
      `|d logit(${name}) / d pixel|: how much a small change of each pixel moves the score of ${name}. Largest: ${high.toPrecision(3)}.`;
    return { occlusion: occludedAt - started, saliency: performance.now() - occludedAt, total: performance.now() - started };
  }
}

function setupModelSwitch(lab, state, view) {
  const select = $("model-select");
  const describe = () => {
    $("model-description").textContent = lab.model.description ?? "";
  };
  for (const model of lab.models) {
    const option = document.createElement("option");
    option.value = model.id;
    option.textContent = model.label;
    select.append(option);
  }
  select.value = lab.model.id;
  describe();
  select.disabled = lab.models.length < 2;
  select.addEventListener("change", async () => {
    const previous = lab.model.id;
    select.disabled = true;
    $("status").textContent = `Loading the ${select.selectedOptions[0].textContent} network\u2026`;
    try {
      await view.idle();
      await lab.use(select.value);
      $("error").hidden = true;
      state.modelId = lab.model.id;
      $("random-digit").disabled = !sampleFits(lab);
      describe();
      $("status").textContent = `Ready: the ${lab.model.label} network runs in your browser.`;
      view.drawn();
    } catch (error) {
      console.error(error);
      const box = $("error");
      box.hidden = false;
      box.textContent = `${error.message} The ${lab.model.label} network stays selected.`;
      select.value = previous;
      $("status").textContent = `Ready: the ${lab.model.label} network runs in your browser.`;
    } finally {
      select.disabled = false;
    }
  });
}

// The panels' modules start loading with the page (import() of a missing one fails quietly).
function importPanels() {
  return PANELS.map(([, path]) => import(path));
}

async function mountPanels(lab, state, imports) {
  for (const [index, [tab, path]] of PANELS.entries()) {
    let module;
    try {
      module = await imports[index];
    } catch (error) {
      console.info(`The ${tab} view is not on this site (${path}): ${error.message}`);
      $(`tab-${tab}`).hidden = true;
      continue;
    }
    try {
      await module.mount($(`${tab}-view`), lab, state);
    } catch (error) {
      console.error(error);
      $(`${tab}-view`).textContent = `The ${tab} view could not start: ${error.message}`;
    }
  }
}

function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function addDrawHooks(lab, view) {
  addHooks({
    view,
    async probabilities(modelId, start, count) {
      return withModel(lab, modelId, async () => {
        const size = lab.digits.size;
        const x = new Float32Array(count * size);
        for (let i = 0; i < count; i += 1) x.set(lab.digits.image(start + i), i * size);
        const { probs } = await lab.logits(x, count);
        return plain(probs);
      });
    },
    // Outputs as base64 of their float32 bytes (little-endian), which is quick to hand over.
    async forward(modelId, x, n) {
      return withModel(lab, modelId, async () => {
        const result = await lab.forward(Float32Array.from(x), n);
        const outputs = {};
        for (const [name, v] of Object.entries(result.outputs)) outputs[name] = toBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        return { logits: plain(result.logits), probs: plain(result.probs), outputs };
      });
    },
    async occlusion(modelId, x, target, patch, stride) {
      return withModel(lab, modelId, async () => {
        const result = await occlusionMap(lab, Float32Array.from(x), target, { patch, stride });
        return { probability: plain(result.probability), ny: result.ny, nx: result.nx, base: result.base, attribution: plain(result.attribution) };
      });
    },
    async saliency(modelId, x, target) {
      return withModel(lab, modelId, async () => plain(await saliencyMap(lab, Float32Array.from(x), target)));
    },
    // The page's own steps, timed (benchmarks): one stroke update, then the Draw view's maps.
    async update() {
      view.inputDirty = false;
      return view.predict();
    },
    async maps() {
      return view.maps();
    },
    replay(strokes) {
      view.pad.replay(strokes);
      view.forgetDigit();
      view.drawn();
      return view.idle();
    },
    // MNIST-style preparation of RGBA bytes (a plain array, or base64) of a width x height image.
    prepare(rgba, width, height) {
      const bytes = typeof rgba === "string" ? Uint8Array.from(atob(rgba), (c) => c.charCodeAt(0)) : Uint8Array.from(rgba);
      const result = prepareDrawing(bytes, width, height);
      return { empty: result.empty, pixels: plain(result.pixels) };
    },
    // The sketchpad's RGBA bytes (base64) and their preparation by the page.
    canvasPixels() {
      const image = view.pad.imageData();
      const prepared = prepareDrawing(image.data, image.width, image.height);
      return {
        width: image.width,
        height: image.height,
        rgba: toBase64(image.data),
        empty: prepared.empty,
        pixels: plain(prepared.pixels),
      };
    },
    // The page's work done: the Draw view's computation, then the panels' redraws.
    async idle() {
      await view.idle();
      await panelsDrawn();
      await view.idle();
    },
    drawn: panelsDrawn,
  });
}

// In the Gradio app (?app=1): the app's model switch drives the lab (and a test digit the
// app's address names, by MNIST index, is loaded if bundled), and the lab tells the app its
// drawing (once it settles: a stroke ended, Clear, a test digit) and its height. The app's
// server tabs (attacks, Inside) then use the same drawing; no stroke reaches the server.
function tellApp(message) {
  window.parent.postMessage(message, window.location.origin);
}

function joinApp(lab, state, view) {
  document.documentElement.classList.add("in-app");
  let told = null;
  state.subscribe(() => {
    if (view.pad.active) return;
    const pixels = state.x ? Array.from(state.pixels, (p) => Math.round(p * 1e6) / 1e6) : null;
    const key = `${state.modelId} ${pixels ? pixels.join(",") : ""}`;
    if (key === told) return;
    told = key;
    const digit = state.source === "digit" ? lab.digits.index(state.digitIndex) : null;
    tellApp({ type: "cnnviz:drawing", pixels, model: state.modelId, digit, label: state.label });
  });
  window.addEventListener("message", (event) => {
    if (event.origin !== window.location.origin || event.source !== window.parent) return;
    const data = event.data ?? {};
    if (data.type === "cnnviz:digit") {
      const found = lab.digits ? lab.digits.info.indices.indexOf(data.index) : -1;
      if (found >= 0) {
        view.loadDigit(found);
      } else {
        const count = lab.digits ? lab.digits.count : 0;
        $("truth").textContent = `Test digit #${data.index} is not among the ${count} test digits bundled with this page; press Random test digit for one that is.`;
      }
      return;
    }
    const select = $("model-select");
    if (data.type !== "cnnviz:model" || select.value === data.model) return;
    if (!lab.models.some((model) => model.id === data.model)) return;
    select.value = data.model;
    select.dispatchEvent(new Event("change"));
  });
  const height = () => {
    const style = getComputedStyle(document.body);
    const margins = parseFloat(style.marginTop) + parseFloat(style.marginBottom);
    tellApp({ type: "cnnviz:height", height: Math.ceil(document.body.offsetHeight + margins) });
  };
  new ResizeObserver(height).observe(document.body);
  height();
  tellApp({ type: "cnnviz:ready", model: lab.model.id });
}

// A test digit named in the address: an integer index into the bundled sample.
function addressDigit(lab, text, notes) {
  if (text === undefined) return null;
  const count = lab.digits ? lab.digits.count : 0;
  if (!/^\d+$/.test(text) || Number(text) >= count) {
    const what = hasPictures(lab) ? "a picture" : "a test digit";
    notes.push(`digit "${text}" (${what} is a whole number from 0 to ${count - 1})`);
    return null;
  }
  return Number(text);
}

async function start() {
  const asked = readAddress();
  if (asked.embed) embed();
  const openTab = setupTabs();
  if (asked.view) openTab(asked.view);
  const state = makeState();
  const imports = importPanels();
  for (const pending of imports) pending.catch(() => undefined);
  let lab;
  try {
    lab = await createLab(new URL("..", import.meta.url), { model: "default", preferred: asked.model });
  } catch (error) {
    console.error(error);
    showError(`${error.message} The lab computes everything in your browser with ONNX Runtime (WebAssembly); without it nothing can run. Try reloading, or another up-to-date browser.`);
    markFailed(error);
    return;
  }
  state.modelId = lab.model.id;
  if (asked.model !== undefined && asked.model !== lab.model.id) {
    asked.notes.push(`no network "${asked.model}" on this site (showing ${lab.model.label})`);
  }
  const link = $("app-link");
  if (lab.manifest.app_url) {
    link.href = lab.manifest.app_url;
    link.hidden = false;
  }
  if (hasPictures(lab)) describePictures(lab);
  const view = new DrawView(lab, state);
  setupModelSwitch(lab, state, view);
  $("random-digit").disabled = !sampleFits(lab);
  const digit = addressDigit(lab, asked.digit, asked.notes);
  if (digit !== null) view.loadDigit(digit);
  noteAddress(asked.notes);
  if (!asked.embed) followAddress(state);
  if (asked.app) joinApp(lab, state, view);
  document.addEventListener("cnnviz:tab", (event) => {
    if (event.detail.tab === "draw") {
      view.mapsDirty = true;
      view.schedule();
    }
  });
  addDrawHooks(lab, view);
  $("status").textContent = `Ready: the ${lab.model.label} network runs in your browser.`;
  markInteractive();
  await mountPanels(lab, state, imports);
  if (asked.view && asked.view !== "draw") openTab(asked.view); // its panel is mounted now
  document.body.dataset.ready = "true";
  markReady(lab);
}

start();
