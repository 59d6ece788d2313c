// Shared colour maps (matplotlib's, sampled at 33 stops and interpolated) and colour bars.
// Used by the Draw view (occlusion: magma 0-100 %, saliency: hot) and the panels
// (viridis for maps >= 0, RdBu_r for signed values, as cnnviz.plots.activation_scale).

const STOPS = {
  magma: [[0, 0, 4], [3, 3, 18], [10, 8, 34], [19, 13, 52], [29, 17, 71], [41, 17, 90], [54, 16, 107], [68, 15, 118], [81, 18, 124], [93, 23, 127], [106, 28, 129], [118, 33, 129], [131, 38, 129], [144, 42, 129], [156, 46, 127], [170, 51, 125], [183, 55, 121], [196, 60, 117], [208, 65, 111], [220, 72, 105], [231, 82, 99], [239, 93, 94], [245, 107, 92], [249, 121, 93], [252, 137, 97], [253, 152, 105], [254, 167, 114], [254, 182, 124], [254, 196, 136], [254, 211, 149], [253, 226, 163], [252, 240, 178], [252, 253, 191]],
  hot: [[11, 0, 0], [32, 0, 0], [53, 0, 0], [74, 0, 0], [95, 0, 0], [116, 0, 0], [137, 0, 0], [158, 0, 0], [179, 0, 0], [200, 0, 0], [221, 0, 0], [242, 0, 0], [255, 8, 0], [255, 29, 0], [255, 50, 0], [255, 71, 0], [255, 92, 0], [255, 113, 0], [255, 134, 0], [255, 155, 0], [255, 176, 0], [255, 197, 0], [255, 218, 0], [255, 239, 0], [255, 255, 7], [255, 255, 38], [255, 255, 70], [255, 255, 101], [255, 255, 133], [255, 255, 164], [255, 255, 196], [255, 255, 227], [255, 255, 255]],
  viridis: [[68, 1, 84], [71, 13, 96], [72, 24, 106], [72, 35, 116], [71, 45, 123], [69, 55, 129], [66, 64, 134], [62, 73, 137], [59, 82, 139], [55, 91, 141], [51, 99, 141], [47, 107, 142], [44, 114, 142], [41, 122, 142], [38, 130, 142], [35, 137, 142], [33, 145, 140], [31, 152, 139], [31, 160, 136], [34, 167, 133], [40, 174, 128], [50, 182, 122], [63, 188, 115], [78, 195, 107], [94, 201, 98], [112, 207, 87], [132, 212, 75], [152, 216, 62], [173, 220, 48], [194, 223, 35], [216, 226, 25], [236, 229, 27], [253, 231, 37]],
  RdBu_r: [[5, 48, 97], [14, 65, 121], [23, 82, 144], [31, 99, 168], [42, 113, 178], [52, 128, 185], [63, 142, 192], [82, 157, 200], [107, 172, 209], [132, 188, 217], [155, 201, 224], [174, 211, 230], [194, 221, 236], [212, 230, 241], [224, 236, 243], [236, 242, 245], [247, 246, 246], [249, 238, 231], [251, 229, 216], [253, 220, 201], [251, 204, 180], [248, 187, 158], [245, 170, 137], [238, 150, 119], [228, 128, 102], [219, 107, 85], [208, 85, 72], [197, 62, 61], [186, 40, 50], [171, 22, 42], [147, 14, 38], [124, 7, 34], [103, 0, 31]],
};

export const COLOUR_MAPS = Object.keys(STOPS);

// [r, g, b] bytes of colour map `name` at t in [0, 1] (clipped; NaN gives mid-grey).
export function colour(name, t) {
  const stops = STOPS[name];
  if (!stops) throw new Error(`unknown colour map "${name}"; use one of ${COLOUR_MAPS.join(", ")}`);
  if (Number.isNaN(t)) return [128, 128, 128];
  const at = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(Math.floor(at), stops.length - 2);
  const f = at - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f));
}

// A 1024-entry lookup table per colour map (r, g, b bytes), made on first use: painting a
// map is then one table read per pixel (the Inside view paints 32 maps per stroke).
const TABLE_SIZE = 1024;
const tables = new Map();

function table(name) {
  if (!tables.has(name)) {
    const rgb = new Uint8ClampedArray(3 * TABLE_SIZE);
    for (let i = 0; i < TABLE_SIZE; i += 1) rgb.set(colour(name, i / (TABLE_SIZE - 1)), 3 * i);
    tables.set(name, rgb);
  }
  return tables.get(name);
}

// `canvas` sized w x h (resized only if it differs: resizing clears and reallocates it).
function sized(canvas, w, h) {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const context = canvas.getContext("2d");
  return [context, context.createImageData(w, h)];
}

// Paint `values` (h x w, row-major) on `canvas` (resized to w x h) on the scale [low, high].
export function paint(canvas, values, w, h, { cmap, low, high }) {
  const [context, image] = sized(canvas, w, h);
  const rgb = table(cmap);
  const span = high - low || 1;
  const data = image.data;
  for (let p = 0; p < w * h; p += 1) {
    const t = (values[p] - low) / span;
    const q = 4 * p;
    if (Number.isNaN(t)) {
      data[q] = data[q + 1] = data[q + 2] = 128;
    } else {
      const k = 3 * Math.round(Math.min(1, Math.max(0, t)) * (TABLE_SIZE - 1));
      data[q] = rgb[k];
      data[q + 1] = rgb[k + 1];
      data[q + 2] = rgb[k + 2];
    }
    data[q + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

// Grey pixels in [0, 1] (white = 1) on `canvas`, e.g. what the model sees.
export function paintGrey(canvas, pixels, w, h) {
  const [context, image] = sized(canvas, w, h);
  const data = image.data;
  for (let p = 0; p < w * h; p += 1) {
    const v = Math.round(255 * Math.min(1, Math.max(0, pixels[p])));
    data[4 * p] = data[4 * p + 1] = data[4 * p + 2] = v;
    data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

// A model input's pixels in [0, 1] (c x h x w, c 1 or 3) on `canvas`, in its own colours.
export function paintPixels(canvas, pixels, c, h, w) {
  const [context, image] = sized(canvas, w, h);
  const data = image.data;
  const plane = h * w;
  for (let p = 0; p < plane; p += 1) {
    for (let ch = 0; ch < 3; ch += 1) {
      const v = pixels[(c === 1 ? 0 : ch) * plane + p];
      data[4 * p + ch] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
    data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

// A vertical colour bar in `element`: high at the top, `ticks` (strings) spread top to bottom.
export function colourBar(element, { cmap, low, high, ticks, label }) {
  element.replaceChildren();
  element.classList.add("colour-bar");
  const gradient = [];
  for (let i = 0; i <= 10; i += 1) {
    const [r, g, b] = colour(cmap, 1 - i / 10);
    gradient.push(`rgb(${r}, ${g}, ${b}) ${i * 10}%`);
  }
  const strip = document.createElement("div");
  strip.className = "colour-strip";
  strip.style.background = `linear-gradient(to bottom, ${gradient.join(", ")})`;
  const scale = document.createElement("div");
  scale.className = "colour-ticks";
  for (const tick of ticks) {
    const span = document.createElement("span");
    span.textContent = tick;
    scale.append(span);
  }
  element.append(strip, scale);
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", `${label ?? "colour scale"}: ${cmap} from ${low} (bottom) to ${high} (top)`);
}
