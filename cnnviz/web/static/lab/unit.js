// The inside of one neuron of the report's CNN: every term of one unit's value.
// A port of cnnviz.inspect.neuron.unit_computation: the input window (zero where it hangs over
// the border), the weights, their products, the bias, the total beside the forward
// pass's own value, batch norm with its running statistics, ReLU and what 2x2 max
// pooling kept. Pure: it reads parameters through `param(name)` and the forward
// pass's named outputs; no ONNX Runtime here.

export const UNIT_LAYERS = ["conv1", "conv2", "fc1", "fc2"];
export const IMAGE_SIZE = 28;

// [name, kernel, stride, padding] of the spatial layers, in order.
const GEOMETRY = [["conv1", 3, 1, 1], ["pool1", 2, 2, 0], ["conv2", 3, 1, 1], ["pool2", 2, 2, 0]];
const SAME_AS = { relu1: "conv1", conv2_bn: "conv2", relu2: "conv2" };

// The conv layer whose units a map layer shows, and the pooling after it.
export const UNIT_OF_MAP = {
  conv1: "conv1", relu1: "conv1", pool1: "conv1",
  conv2: "conv2", conv2_bn: "conv2", relu2: "conv2", pool2: "conv2",
};

/** [top, bottom, left, right] (half-open) of the 28x28 input a unit of `layer` sees. */
export function receptiveField(layer, row, col, clip = true) {
  const name = SAME_AS[layer] || layer;
  const index = GEOMETRY.findIndex((step) => step[0] === name);
  if (index < 0) {
    throw new Error(`receptive fields are for conv1, relu1, pool1, conv2, conv2_bn, relu2, pool2, not ${layer}`);
  }
  const chain = GEOMETRY.slice(0, index + 1).reverse();
  const span = [row, col].map((position) => {
    let low = position;
    let high = position;
    for (const [, kernel, stride, padding] of chain) {
      low = low * stride - padding;
      high = high * stride - padding + kernel - 1;
    }
    if (clip) {
      low = Math.max(low, 0);
      high = Math.min(high, IMAGE_SIZE - 1);
    }
    return [low, high + 1];
  });
  return [span[0][0], span[0][1], span[1][0], span[1][1]];
}

function batchNormTerms(param, prefix, unit) {
  return {
    mean: param(`${prefix}.running_mean`)[unit],
    variance: param(`${prefix}.running_var`)[unit],
    eps: Number(param(`${prefix}.eps`)),
    weight: param(`${prefix}.weight`)[unit],
    bias: param(`${prefix}.bias`)[unit],
  };
}

/** Eval-mode batch norm of one value: (x - mean) / sqrt(variance + eps) * weight + bias. */
export function applyBatchNorm(norm, x) {
  return (x - norm.mean) / Math.sqrt(norm.variance + norm.eps) * norm.weight + norm.bias;
}

// The 3x3 window around (row, col) of C maps of size x size, zero-padded, and its mask.
function window3(maps, channels, size, row, col) {
  const inputs = new Float64Array(channels * 9);
  const padding = new Array(channels * 9).fill(false);
  for (let c = 0; c < channels; c += 1) {
    for (let i = 0; i < 3; i += 1) {
      for (let j = 0; j < 3; j += 1) {
        const r = row + i - 1;
        const q = col + j - 1;
        const k = c * 9 + i * 3 + j;
        if (r < 0 || q < 0 || r >= size || q >= size) {
          padding[k] = true;
        } else {
          inputs[k] = maps[(c * size + r) * size + q];
        }
      }
    }
  }
  return { inputs, padding };
}

// The 2x2 pooling window holding (row, col) of one channel of the ReLU output.
function poolTerms(afterRelu, pooled, unit, size, row, col) {
  const top = row - (row % 2);
  const left = col - (col % 2);
  const half = size / 2;
  const window = [];
  for (let i = 0; i < 2; i += 1) {
    for (let j = 0; j < 2; j += 1) {
      window.push(afterRelu[(unit * size + top + i) * size + left + j]);
    }
  }
  let best = 0;
  for (let k = 1; k < 4; k += 1) {
    if (window[k] > window[best]) best = k; // the first maximum, as torch keeps
  }
  const position = [Math.floor(row / 2), Math.floor(col / 2)];
  return {
    window,
    kept: [Math.floor(best / 2), best % 2],
    position,
    value: pooled[(unit * half + position[0]) * half + position[1]],
    unitWasKept: best === (row % 2) * 2 + (col % 2),
  };
}

function sum(values) {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/**
 * The `count` strongest pushes up, then down: {indices, values}, ordered from the largest
 * push up to the largest push down (cnnviz's UnitComputation.pushes).
 */
export function pushes(contributions, count = 8) {
  const order = Array.from(contributions, (_, i) => i).sort(
    (a, b) => contributions[a] - contributions[b] || a - b,
  );
  const up = order.slice().reverse().slice(0, count).filter((i) => contributions[i] > 0);
  const down = order.slice(0, count).filter((i) => contributions[i] < 0);
  const indices = up.concat(down.reverse());
  return { indices, values: indices.map((i) => contributions[i]) };
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Every term of one unit's value on one input.
 *
 * @param {object} net  {param(name), outputs: {name: Float32Array}, logits: Float32Array,
 *                       batchnorm: bool} where outputs are the forward graph's (one image)
 * @param {Float32Array} x  the 1x28x28 input in model space
 * @param {string} layer  "conv1", "conv2", "fc1" or "fc2"
 * @param {number} unit  output channel or neuron
 * @param {number[]|null} position  [row, col] for convolutions
 * @returns {object} terms with inputs, weights, padding, products (flat, float64), bias,
 *   total, forwardValue, batchNorm, normalised, relu, output, pool, receptiveField, pushes
 */
export function unitComputation(net, x, layer, unit, position = null) {
  check(UNIT_LAYERS.includes(layer), `layer must be one of ${UNIT_LAYERS.join(", ")}, not ${layer}`);
  const { param, outputs } = net;
  const weight = param(`${layer}.weight`);
  const units = weight.shape[0];
  check(Number.isInteger(unit) && unit >= 0 && unit < units, `${layer} has units 0 to ${units - 1}, not ${unit}`);
  const fanIn = weight.length / units;
  const weights = Float64Array.from(weight.subarray(unit * fanIn, (unit + 1) * fanIn));
  const bias = param(`${layer}.bias`)[unit];
  let terms;
  if (layer === "fc1" || layer === "fc2") {
    const source = layer === "fc1" ? "pool2" : "relu3";
    terms = {
      position: null,
      source,
      inputs: Float64Array.from(outputs[source]),
      padding: new Array(fanIn).fill(false),
      forwardValue: layer === "fc1" ? outputs.fc1[unit] : net.logits[unit],
      batchNorm: layer === "fc1" && net.batchnorm ? batchNormTerms(param, "fc1_bn", unit) : null,
      relu: layer === "fc1" ? outputs.relu3[unit] : null,
      pool: null,
      receptiveField: [0, IMAGE_SIZE, 0, IMAGE_SIZE],
      shape: [fanIn],
    };
  } else {
    check(Array.isArray(position) && position.length === 2, `a ${layer} unit needs its [row, col] position`);
    const [row, col] = position.map(Number);
    const size = layer === "conv1" ? 28 : 14;
    check(
      Number.isInteger(row) && Number.isInteger(col) && row >= 0 && col >= 0 && row < size && col < size,
      `${layer} positions are 0 to ${size - 1}, not [${row}, ${col}]`,
    );
    const channels = fanIn / 9;
    const below = layer === "conv1" ? x : outputs.pool1;
    const { inputs, padding } = window3(below, channels, size, row, col);
    const [relu, pool] = layer === "conv1" ? ["relu1", "pool1"] : ["relu2", "pool2"];
    terms = {
      position: [row, col],
      source: layer === "conv1" ? "image" : "pool1",
      inputs,
      padding,
      forwardValue: outputs[layer][(unit * size + row) * size + col],
      batchNorm: layer === "conv2" && net.batchnorm ? batchNormTerms(param, "conv2_bn", unit) : null,
      relu: outputs[relu][(unit * size + row) * size + col],
      pool: poolTerms(outputs[relu], outputs[pool], unit, size, row, col),
      receptiveField: receptiveField(layer, row, col),
      shape: [channels, 3, 3],
    };
  }
  const products = terms.inputs.map((v, i) => v * weights[i]);
  const total = sum(products) + bias;
  const normalised = terms.batchNorm ? applyBatchNorm(terms.batchNorm, total) : total;
  const contributions = terms.position
    ? Array.from({ length: terms.shape[0] }, (_, c) => sum(products.subarray(c * 9, c * 9 + 9)))
    : Array.from(products);
  return {
    layer,
    unit,
    ...terms,
    weights,
    products,
    bias,
    total,
    normalised,
    output: terms.relu === null ? normalised : Math.max(normalised, 0),
    channelSums: terms.position ? contributions : null,
    pushes: pushes(contributions),
    pushMeaning: terms.position ? "sum of a channel's 9 products" : "input x weight",
  };
}

// Python's "%g": six significant digits, exponent form below 1e-4 (1e-05).
function formatG(v) {
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e6)) {
    const [mantissa, exponent] = v.toExponential(5).split("e");
    const digits = mantissa.replace(/\.?0+$/, "");
    const power = Number(exponent);
    return `${digits}e${power < 0 ? "-" : "+"}${String(Math.abs(power)).padStart(2, "0")}`;
  }
  return String(Number(v.toPrecision(6)));
}

/** Lines of the unit's arithmetic, as cnnviz's UnitComputation.arithmetic words them. */
export function arithmetic(terms) {
  const signed = (v) => (v >= 0 ? "+" : "") + v.toFixed(4);
  const count = terms.products.length - terms.padding.filter(Boolean).length;
  const lines = [
    `sum of ${count} products ${signed(sum(terms.products))}`,
    `+ bias                 ${signed(terms.bias)}`,
    `= ${terms.layer.padEnd(20)} ${signed(terms.total)}`,
    `  (forward pass:       ${signed(terms.forwardValue)})`,
  ];
  const norm = terms.batchNorm;
  if (norm) {
    lines.push(
      "batch norm, running statistics:",
      `  (${terms.total.toFixed(3)} - ${norm.mean.toFixed(3)}) / sqrt(${norm.variance.toFixed(3)} + ${formatG(norm.eps)})`,
      `  x ${norm.weight.toFixed(3)} + ${norm.bias.toFixed(3)} = ${signed(terms.normalised)}`,
    );
  }
  if (terms.relu !== null) {
    lines.push(`ReLU: max(0, ${terms.normalised.toFixed(4)}) = ${terms.output.toFixed(4)}`);
  }
  if (terms.pool) {
    const kept = terms.pool.unitWasKept ? "this unit" : "another unit";
    lines.push(`max pool keeps ${terms.pool.value.toFixed(4)} (${kept})`);
  }
  return lines;
}

/** Plain arrays of the terms (for the test hooks and JSON). */
export function plainTerms(terms) {
  const out = {};
  for (const [key, value] of Object.entries(terms)) {
    out[key] = ArrayBuffer.isView(value) ? Array.from(value) : value;
  }
  return out;
}
