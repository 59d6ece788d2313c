// FGSM and PGD in the browser: the algorithm of cnnviz.fgsm / cnnviz.pgd (L-infinity,
// untargeted, on the cross-entropy), through the exported gradient graph. Budgets and
// steps are in pixel units of [0, 1] images, whatever the model's bounds: a step of
// `stepSize` pixels is `stepSize * (high - low)` in model space. Pure: needs only a
// lab-like object with `gradient(x, n, logitWeights, lseWeight)` and `logits(x, n)`.

/** Model-space units per pixel unit: high - low (2 for [-1, 1]). */
export function pixelScale(bounds) {
  return bounds[1] - bounds[0];
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` seeded numbers: "uniform" in [-1, 1) or "normal" N(0, 1) (Box-Muller). */
export function seededNoise(length, seed, kind = "uniform") {
  const random = seededRandom(seed);
  const noise = new Float32Array(length);
  for (let i = 0; i < length; i += 1) {
    if (kind === "uniform") {
      noise[i] = random() * 2 - 1;
    } else {
      const u = 1 - random();
      noise[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    }
  }
  return noise;
}

/** Softmax of one row of logits. */
export function softmax(logits) {
  const top = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}

export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i] > values[best]) best = i;
  return best;
}

/** Weights of the gradient graph for n samples: `sign` * onehot(class of each sample). */
export function onehot(classes, k, sign = 1) {
  const weights = new Float32Array(classes.length * k);
  classes.forEach((c, i) => {
    weights[i * k + c] = sign;
  });
  return weights;
}

/** Logits [K] and the input gradient of the cross-entropy towards `label` of one image. */
export async function lossGradient(lab, x, label, classes) {
  const { logits, grad } = await lab.gradient(x, 1, onehot([label], classes, -1), new Float32Array([1]));
  return { logits: Float32Array.from(logits), grad };
}

/**
 * One PGD step from `x`: x + alpha * sign(grad), then into the eps-ball around `original`
 * and the bounds. Pure, float32 like torch.
 */
export function pgdStep(x, grad, original, { alpha, radius, bounds }) {
  const [low, high] = bounds;
  const next = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += 1) {
    const moved = Math.fround(x[i] + Math.fround(alpha * Math.sign(grad[i])));
    const lowest = Math.max(Math.fround(original[i] - radius), low);
    const highest = Math.min(Math.fround(original[i] + radius), high);
    next[i] = Math.min(Math.max(moved, lowest), highest);
  }
  return next;
}

/** Per-image size of a change in pixel units: {linf, l2}. */
export function perturbationSize(images, originals, bounds) {
  const scale = pixelScale(bounds);
  let linf = 0;
  let squares = 0;
  for (let i = 0; i < images.length; i += 1) {
    const d = (images[i] - originals[i]) / scale;
    linf = Math.max(linf, Math.abs(d));
    squares += d * d;
  }
  return { linf, l2: Math.sqrt(squares) };
}

/**
 * PGD (Madry et al.), L-infinity, untargeted, on one image, as cnnviz.pgd.
 *
 * @param {object} lab  {gradient, logits, model: {input: {bounds}, classes}}
 * @param {Float32Array} x  one image in model space
 * @param {number} label  the class to move away from
 * @param {object} options  eps (pixel units), steps (40), stepSize (pixel units, default
 *   2.5 * eps / steps), randomStart (true), seed (0), noise (values in [-1, 1] instead)
 * @returns {Promise<object>} {images, originals, label, prediction, probs, success, steps,
 *   logitHistory, probabilityHistory, linf, l2, bounds}
 */
export async function pgd(lab, x, label, options = {}) {
  const { eps = 0.3, steps = 40, stepSize = null, randomStart = true, seed = 0 } = options;
  if (!(eps >= 0) || !(steps >= 1) || !Number.isInteger(steps)) {
    throw new Error(`need eps >= 0 and a whole number of steps >= 1, got eps=${eps}, steps=${steps}`);
  }
  const bounds = lab.model.input.bounds;
  const classes = lab.model.classes.length;
  const scale = pixelScale(bounds);
  const radius = Math.fround(scale * eps);
  const alpha = Math.fround(scale * (stepSize !== null ? stepSize : (2.5 * eps) / steps));
  const original = Float32Array.from(x);
  let adversarial = Float32Array.from(original);
  if (randomStart && radius > 0) {
    const noise = options.noise ? Float32Array.from(options.noise) : seededNoise(x.length, seed);
    adversarial = adversarial.map((v, i) =>
      Math.min(Math.max(Math.fround(v + Math.fround(noise[i] * radius)), bounds[0]), bounds[1]),
    );
  }
  const logitHistory = [];
  const probabilityHistory = [];
  const record = (logits) => {
    logitHistory.push(logits[label]);
    probabilityHistory.push(softmax(logits)[label]);
  };
  for (let step = 0; step < steps; step += 1) {
    const { logits, grad } = await lossGradient(lab, adversarial, label, classes);
    record(logits);
    adversarial = pgdStep(adversarial, grad, original, { alpha, radius, bounds });
  }
  const { logits } = await lab.logits(adversarial, 1);
  const final = Float32Array.from(logits);
  record(final);
  const prediction = argmax(final);
  return {
    images: adversarial,
    originals: original,
    label,
    prediction,
    probs: softmax(final),
    success: prediction !== label,
    steps,
    logitHistory,
    probabilityHistory,
    bounds,
    ...perturbationSize(adversarial, original, bounds),
  };
}

/** FGSM (Goodfellow et al.): one PGD step of size eps, no random start, as cnnviz.fgsm. */
export function fgsm(lab, x, label, { eps = 0.3 } = {}) {
  return pgd(lab, x, label, { eps, steps: 1, stepSize: eps, randomStart: false });
}
