// Small DOM helpers shared by the Inside, Attack and Classes views.

import { paintGrey } from "./colormap.js";

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

/** Whether `root` is on screen now (its tab is open). */
export function isShown(root) {
  return root.getClientRects().length > 0;
}

/**
 * Call `render` when the input or model changes and `root` is shown, or later when its tab
 * opens ("cnnviz:show"); a newer call makes older renders stale (`isCurrent()` false).
 */
export function renderWhenShown(root, state, render) {
  let dirty = true;
  let generation = 0;
  const run = () => {
    dirty = false;
    generation += 1;
    const mine = generation;
    return render(() => mine === generation);
  };
  const poke = () => {
    dirty = true;
    if (isShown(root)) run();
  };
  state.subscribe(poke);
  root.addEventListener("cnnviz:show", () => {
    if (dirty) run();
  });
  return { run, poke };
}

/** Paint one model-space image `x` (C = 1, h x w) in grey, black = the low bound. */
export function paintInput(canvas, lab, x) {
  const [, h, w] = lab.model.input.shape;
  paintGrey(canvas, lab.toPixels(x), w, h);
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
