// Class images grown from noise (the report's R12), as cnnviz.class_visualisation with
// its defaults: start from mid-grey plus N(0, 0.05) pixel noise, climb the target
// class's log-probability with steps of fixed L2 length (0.5 pixel units; components
// that would push a pixel past black or white are dropped first) until p >= 0.99, at
// most 200 steps. All classes still climbing share one gradient run per step.
// Pure, except `mount`, which loads the view (classes_view.js) on demand.

import { argmax, onehot, pixelScale, seededNoise, softmax } from "./attacks.js";

export const CLASS_DEFAULTS = {
  noiseStd: 0.05,
  stepSize: 0.5,
  threshold: 0.99,
  steps: 200,
  objective: "log_probability",
  seed: 0,
};

/** Mid-grey plus N(0, noiseStd) pixel noise, clipped: n starting images in model space. */
export function startImages(n, size, bounds, { noiseStd = CLASS_DEFAULTS.noiseStd, seed = 0 } = {}) {
  const [low, high] = bounds;
  const grey = (low + high) / 2;
  const spread = noiseStd * pixelScale(bounds);
  return seededNoise(n * size, seed, "normal").map((v) => Math.min(Math.max(grey + spread * v, low), high));
}

// The gradient of one image scaled to unit L2 length, after dropping the components that
// would push a pixel already at a bound further out.
function unitStep(grad, image, [low, high]) {
  const step = Float64Array.from(grad, (g, i) =>
    (image[i] >= high && g > 0) || (image[i] <= low && g < 0) ? 0 : g,
  );
  const norm = Math.max(Math.sqrt(step.reduce((a, g) => a + g * g, 0)), 1e-12);
  return step.map((g) => g / norm);
}

/**
 * Gradient ascent from noise until each class is read with p >= threshold (or the cap).
 *
 * @param {object} lab  {gradient, model: {input: {shape, bounds}, classes}}
 * @param {object} options  targets (default every class), start (n * C*H*W, model space),
 *   noiseStd, seed, stepSize (pixel units), threshold, steps (the cap), objective
 *   ("log_probability" or "logit"), onStep(step, progress) called after each step, stop() true
 *   to end early (what was found so far is returned)
 * @returns {Promise<object>} {images (Float32Array n*D), targets, success, steps (taken),
 *   probabilities, predictions, logitHistory / probabilityHistory ([T][n]), ms}
 */
export async function classImages(lab, options = {}) {
  const begun = performance.now();
  const settings = { ...CLASS_DEFAULTS, ...options };
  const { bounds, shape } = lab.model.input;
  const k = lab.model.classes.length;
  const size = shape.reduce((a, b) => a * b, 1);
  const targets = settings.targets || Array.from({ length: k }, (_, c) => c);
  const n = targets.length;
  if (!["log_probability", "logit"].includes(settings.objective)) {
    throw new Error(`objective must be "log_probability" or "logit", not ${settings.objective}`);
  }
  if (!(settings.steps >= 0) || !Number.isInteger(settings.steps)) {
    throw new Error(`steps must be a whole number >= 0, not ${settings.steps}`);
  }
  const variable = settings.start ? Float32Array.from(settings.start) : startImages(n, size, bounds, settings);
  const modelStep = settings.stepSize * pixelScale(bounds);
  const lse = settings.objective === "log_probability" ? -1 : 0;
  const taken = new Array(n).fill(0);
  const logitNow = new Array(n).fill(0);
  const probabilityNow = new Array(n).fill(0);
  const predictions = new Array(n).fill(0);
  const logitHistory = [];
  const probabilityHistory = [];
  let active = targets.map((_, i) => i);
  for (let step = 0; step <= settings.steps; step += 1) {
    if (settings.stop && settings.stop()) break;
    const batch = new Float32Array(active.length * size);
    active.forEach((i, j) => batch.set(variable.subarray(i * size, (i + 1) * size), j * size));
    const { logits, grad } = await lab.gradient(
      batch,
      active.length,
      onehot(active.map((i) => targets[i]), k),
      new Float32Array(active.length).fill(lse),
    );
    const going = [];
    active.forEach((i, j) => {
      const row = Array.from(logits.subarray(j * k, (j + 1) * k));
      logitNow[i] = row[targets[i]];
      probabilityNow[i] = softmax(row)[targets[i]];
      predictions[i] = argmax(row);
      if (!(probabilityNow[i] >= settings.threshold)) going.push(j);
    });
    logitHistory.push(logitNow.slice());
    probabilityHistory.push(probabilityNow.slice());
    if (step === settings.steps || going.length === 0) break;
    for (const j of going) {
      const i = active[j];
      const image = batch.subarray(j * size, (j + 1) * size);
      const direction = unitStep(grad.subarray(j * size, (j + 1) * size), image, bounds);
      for (let p = 0; p < size; p += 1) {
        const moved = Math.fround(image[p] + Math.fround(modelStep * direction[p]));
        variable[i * size + p] = Math.min(Math.max(moved, bounds[0]), bounds[1]);
      }
      taken[i] += 1;
    }
    active = going.map((j) => active[j]);
    if (settings.onStep) settings.onStep(step + 1, { logitHistory, probabilityHistory, active });
  }
  return {
    images: variable,
    targets,
    success: probabilityNow.map((p) => p >= settings.threshold),
    steps: taken,
    probabilities: probabilityNow,
    predictions,
    logitHistory,
    probabilityHistory,
    bounds,
    ms: performance.now() - begun,
  };
}

/** The Classes view (classes_view.js), loaded when main.js mounts it. */
export async function mount(root, lab, state) {
  const view = await import("./classes_view.js");
  return view.mount(root, lab, state);
}
