// Small DOM helpers shared by the Inside, Attack and Classes views.

import { paintPixels } from "./colormap.js";

/** An element with attributes (`text` sets textContent) and children. */
export function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** Whether `root` is on screen now (its tab is open), read without forcing a layout. */
export function isShown(root) {
  return root.isConnected && !root.closest("[hidden]");
}

// Redraws waiting for the next animation frame (promises of their renders' times, ms).
const frames = new Set();
// A hidden page gets no animation frames: a redraw waits at most this long.
const FRAME_FALLBACK_MS = 100;

function nextFrame() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FRAME_FALLBACK_MS);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Resolves when every redraw asked for so far is done, with the ms they took. */
export async function panelsDrawn() {
  let total = 0;
  for (let guard = 0; guard < 100 && frames.size > 0; guard += 1) {
    for (const ms of await Promise.all([...frames])) total += ms;
  }
  return total;
}

/**
 * Call `render` when the input or model changes and `root` is shown (at most once per
 * animation frame, however many changes came), or later when its tab opens
 * ("cnnviz:show"); a newer call makes older renders stale (`isCurrent()` false).
 */
export function renderWhenShown(root, state, render) {
  let dirty = true;
  let generation = 0;
  let pending = null;
  const run = () => {
    dirty = false;
    generation += 1;
    const mine = generation;
    return render(() => mine === generation);
  };
  const poke = () => {
    dirty = true;
    if (pending || !isShown(root)) return;
    pending = nextFrame().then(async () => {
      pending = null;
      if (!dirty || !isShown(root)) return 0;
      const started = performance.now();
      await run();
      return performance.now() - started;
    });
    const done = pending.catch((error) => {
      console.error(error);
      return 0;
    });
    frames.add(done);
    done.then(() => frames.delete(done));
  };
  state.subscribe(poke);
  root.addEventListener("cnnviz:show", () => {
    if (dirty) run();
  });
  return { run, poke };
}

/** Paint one model-space image `x` (C x h x w, grey or colour), black = the low bound. */
export function paintInput(canvas, lab, x) {
  const [c, h, w] = lab.model.input.shape;
  paintPixels(canvas, lab.toPixels(x), c, h, w);
}

/** Whether the site's sample is a teacher's pictures (`export-web --images`), not MNIST digits. */
export function hasPictures(lab) {
  return lab.digits?.kind === "pictures";
}

/** What the lab's inputs are called: "picture" on a site with a teacher's pictures, else "digit". */
export function inputWord(lab) {
  return hasPictures(lab) ? "picture" : "digit";
}

/** Largest |value| of an array (at least `floor`, so an all-zero map still has a scale). */
export function largest(values, floor = 1e-6) {
  let top = floor;
  for (const v of values) top = Math.max(top, Math.abs(v));
  return top;
}

/** A percentage as the page writes it: "97.3 %". */
export function percent(p) {
  return `${(100 * p).toFixed(1)} %`;
}

/**
 * Horizontal bars of signed contributions: rows of "label  value" with a bar right (up)
 * or left (down) of the middle, the longest bar filling its half.
 */
export function bars(rows, { caption }) {
  const top = largest(rows.map((row) => row.value));
  const list = el("ol", { class: "push-bars", "aria-label": caption });
  for (const { label, value } of rows) {
    const width = `${(50 * Math.abs(value)) / top}%`;
    const bar = el("span", { class: value >= 0 ? "push-bar up" : "push-bar down" });
    bar.style.width = width;
    list.append(
      el("li", {}, [
        el("span", { class: "bar-label", text: label }),
        el("span", { class: "bar-track" }, [bar]),
        el("span", { class: "bar-value", text: (value >= 0 ? "+" : "") + value.toFixed(4) }),
      ]),
    );
  }
  return el("figure", { class: "push-figure" }, [el("figcaption", { text: caption }), list]);
}

// matplotlib's tab10: one colour per line of a plot.
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/**
 * A line plot on `canvas` (its CSS width, `height` px): `history` is [T][lines], one value per
 * step and line; the y axis spans [low, high] (default: the values and [0, 1]), with labels.
 */
export function linePlot(canvas, history, { yLabel, low = null, high = null, height = 220, digits = 0 }) {
  const width = canvas.clientWidth || 360;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.height = `${height}px`;
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.clearRect(0, 0, width, height);
  const margin = { left: 44, right: 10, top: 10, bottom: 32 };
  const values = history.flat();
  const bottom = low ?? Math.min(0, ...values);
  const top = high ?? Math.max(1, ...values);
  const steps = Math.max(history.length - 1, 1);
  const px = (t) => margin.left + ((width - margin.left - margin.right) * t) / steps;
  const py = (v) => height - margin.bottom - ((height - margin.top - margin.bottom) * (v - bottom)) / (top - bottom);
  context.strokeStyle = "#888";
  context.fillStyle = getComputedStyle(canvas).color || "#222";
  context.font = "11px sans-serif";
  context.beginPath();
  context.moveTo(margin.left, margin.top);
  context.lineTo(margin.left, height - margin.bottom);
  context.lineTo(width - margin.right, height - margin.bottom);
  context.stroke();
  context.textAlign = "right";
  for (const v of [bottom, (bottom + top) / 2, top]) context.fillText(v.toFixed(digits), margin.left - 4, py(v) + 4);
  context.textAlign = "center";
  context.fillText("0", px(0), height - margin.bottom + 14);
  context.fillText(String(history.length - 1), px(history.length - 1), height - margin.bottom + 14);
  context.fillText("step", (margin.left + width) / 2, height - 4);
  context.save();
  context.translate(11, (margin.top + height - margin.bottom) / 2);
  context.rotate(-Math.PI / 2);
  context.fillText(yLabel, 0, 0);
  context.restore();
  const lines = history.length ? history[0].length : 0;
  for (let i = 0; i < lines; i += 1) {
    context.strokeStyle = PALETTE[i % PALETTE.length];
    context.lineWidth = 1.5;
    context.beginPath();
    history.forEach((row, t) => (t === 0 ? context.moveTo(px(t), py(row[i])) : context.lineTo(px(t), py(row[i]))));
    context.stroke();
  }
}
