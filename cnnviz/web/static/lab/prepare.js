// MNIST-style preparation of a drawing, the same steps and numbers as Python's
// cnnviz.prepare_drawing (cnnviz/data/drawing.py): ink map, threshold, crop to the ink, resize
// of the longer side to 20 px (torch's bilinear interpolation with antialias, i.e. PIL's
// triangle filter), placement in 28 x 28 by the centre of mass, then [0, 1] pixels.

export const DIGIT_BOX = 20;
export const FIELD = 28;
export const CENTRE = 14.0;
export const INK_THRESHOLD = 0.1;
export const MIN_INK_PIXELS = 8;

// Python's round(): halves go to the even neighbour.
export function roundHalfEven(value) {
  const floor = Math.floor(value);
  const rest = value - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

// float32 products byte / 255 * weight, as numpy computes them (one table per channel).
function channelTable(weight) {
  const table = new Float32Array(256);
  const w = Math.fround(weight);
  for (let v = 0; v < 256; v += 1) table[v] = Math.fround(Math.fround(v / 255) * w);
  return table;
}
const RED = channelTable(0.299);
const GREEN = channelTable(0.587);
const BLUE = channelTable(0.114);
const ALPHA = channelTable(1);

// Ink in [0, 1] per pixel of RGBA bytes (canvas ImageData): dark on light gives ink where
// dark; transparent pixels carry none; light-on-dark (from the border) is read inverted.
export function inkMap(data, width, height) {
  const size = width * height;
  const grey = new Float32Array(size);
  for (let p = 0, q = 0; p < size; p += 1, q += 4) {
    grey[p] = Math.fround(RED[data[q]] + GREEN[data[q + 1]]) + BLUE[data[q + 2]];
  }
  const border = [];
  const add = (p) => {
    if (ALPHA[data[4 * p + 3]] > 0.5) border.push(grey[p]);
  };
  for (let x = 0; x < width; x += 1) add(x);
  for (let x = 0; x < width; x += 1) add((height - 1) * width + x);
  for (let y = 0; y < height; y += 1) add(y * width);
  for (let y = 0; y < height; y += 1) add(y * width + width - 1);
  let lightOnDark = false;
  if (border.length > 0) {
    border.sort((a, b) => a - b);
    const mid = border.length >> 1;
    const median = border.length % 2 ? border[mid] : (border[mid - 1] + border[mid]) / 2;
    lightOnDark = median < 0.5;
  }
  const ink = grey; // in place
  for (let p = 0; p < size; p += 1) {
    ink[p] = (lightOnDark ? grey[p] : 1 - grey[p]) * ALPHA[data[4 * p + 3]];
  }
  return ink;
}

// torch's antialiased bilinear weights along one axis (upsample_bilinear2d_aa, align_corners=False).
function resizeWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const invscale = scale >= 1 ? 1 / scale : 1;
  const rows = [];
  for (let i = 0; i < outSize; i += 1) {
    const centre = scale * (i + 0.5);
    const start = Math.max(Math.trunc(centre - support + 0.5), 0);
    const stop = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const weights = [];
    let total = 0;
    for (let j = start; j < stop; j += 1) {
      const t = Math.abs((j - centre + 0.5) * invscale);
      const w = t < 1 ? 1 - t : 0;
      weights.push(w);
      total += w;
    }
    if (total !== 0) for (let j = 0; j < weights.length; j += 1) weights[j] /= total;
    rows.push({ start, weights });
  }
  return rows;
}

// Resize an (h, w) map to (outH, outW): horizontal pass, then vertical, as torch does.
export function resizeAntialiased(src, h, w, outH, outW) {
  const across = resizeWeights(w, outW);
  const down = resizeWeights(h, outH);
  const middle = new Float32Array(h * outW);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < outW; x += 1) {
      const { start, weights } = across[x];
      let sum = 0;
      for (let j = 0; j < weights.length; j += 1) sum += weights[j] * src[y * w + start + j];
      middle[y * outW + x] = sum;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y += 1) {
    const { start, weights } = down[y];
    for (let x = 0; x < outW; x += 1) {
      let sum = 0;
      for (let j = 0; j < weights.length; j += 1) sum += weights[j] * middle[(start + j) * outW + x];
      out[y * outW + x] = sum;
    }
  }
  return out;
}

// {empty, pixels: Float32Array(28 * 28) in [0, 1]} from RGBA bytes of a width x height image.
export function prepareDrawing(data, width, height) {
  const ink = inkMap(data, width, height);
  let count = 0;
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y += 1) {
    let first = -1;
    let last = -1;
    for (let x = 0, p = y * width; x < width; x += 1, p += 1) {
      if (ink[p] > INK_THRESHOLD) {
        count += 1;
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first >= 0) {
      top = Math.min(top, y);
      bottom = y;
      left = Math.min(left, first);
      right = Math.max(right, last);
    }
  }
  const pixels = new Float32Array(FIELD * FIELD);
  if (count < MIN_INK_PIXELS) return { empty: true, pixels };
  const cropH = bottom - top + 1;
  const cropW = right - left + 1;
  const crop = new Float32Array(cropH * cropW);
  for (let y = 0; y < cropH; y += 1) {
    for (let x = 0; x < cropW; x += 1) crop[y * cropW + x] = ink[(top + y) * width + left + x];
  }
  const scale = DIGIT_BOX / Math.max(cropH, cropW);
  const h = Math.max(1, roundHalfEven(cropH * scale));
  const w = Math.max(1, roundHalfEven(cropW * scale));
  const digit = resizeAntialiased(crop, cropH, cropW, h, w);
  let peak = 0;
  for (let p = 0; p < digit.length; p += 1) {
    digit[p] = Math.min(1, Math.max(0, digit[p]));
    peak = Math.max(peak, digit[p]);
  }
  let mass = 0;
  let massY = 0;
  let massX = 0;
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) {
      const v = (digit[y * w + x] /= peak);
      mass += v;
      massY += v * y;
      massX += v * x;
    }
  }
  const row = Math.min(Math.max(roundHalfEven(CENTRE - massY / mass), 0), FIELD - h);
  const col = Math.min(Math.max(roundHalfEven(CENTRE - massX / mass), 0), FIELD - w);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) pixels[(row + y) * FIELD + col + x] = digit[y * w + x];
  }
  return { empty: false, pixels };
}
