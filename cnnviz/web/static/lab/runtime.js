// The Lab API over ONNX Runtime Web (wasm backend, one thread): manifest, models, digits.
// Everything is fetched with URLs relative to the site, with a time limit, so nothing hangs
// and no request leaves the site.

const FETCH_TIMEOUT_MS = 30000;
const START_TIMEOUT_MS = 20000;

export class LabError extends Error {
  constructor(message, cause) {
    super(message);
    this.name = "LabError";
    this.cause = cause;
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new LabError(`${what} did not finish within ${ms / 1000} s.`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function fetchBytes(url, what) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok) {
      throw new LabError(`Could not load ${what} (${url.pathname}: HTTP ${response.status}).`);
    }
    return await response.arrayBuffer();
  } catch (error) {
    if (error instanceof LabError) throw error;
    const reason = error.name === "AbortError" ? "it took too long" : error.message;
    throw new LabError(`Could not load ${what} (${url.pathname}): ${reason}.`, error);
  } finally {
    clearTimeout(timer);
  }
}

function softmax(logits, n, k) {
  const probs = new Float32Array(n * k);
  for (let i = 0; i < n; i += 1) {
    let top = -Infinity;
    for (let j = 0; j < k; j += 1) top = Math.max(top, logits[i * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j += 1) {
      const e = Math.exp(logits[i * k + j] - top);
      probs[i * k + j] = e;
      sum += e;
    }
    for (let j = 0; j < k; j += 1) probs[i * k + j] /= sum;
  }
  return probs;
}

function product(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

const WASM_FILE = "ort-wasm-simd-threaded.wasm";

// ONNX Runtime Web's module and its WebAssembly binary, fetched side by side (the binary is
// handed to ORT, which would otherwise fetch it only when the first session starts).
async function loadOrt(base) {
  if (typeof WebAssembly !== "object") {
    throw new LabError("This browser cannot run WebAssembly, which the lab needs to compute in the page.");
  }
  const binary = fetchBytes(new URL(`ort/${WASM_FILE}`, base), "ONNX Runtime's WebAssembly file");
  binary.catch(() => undefined);
  let ort;
  try {
    ort = await withTimeout(import(new URL("ort/ort.wasm.min.mjs", base).href), START_TIMEOUT_MS, "Loading ONNX Runtime");
  } catch (error) {
    if (error instanceof LabError) throw error;
    throw new LabError(`ONNX Runtime Web could not be loaded (ort/ort.wasm.min.mjs): ${error.message}.`, error);
  }
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL("ort/", base).href;
  ort.env.wasm.wasmBinary = await binary;
  ort.env.logLevel = "error";
  return ort;
}

class Digits {
  constructor(info, bytes, lab) {
    this.info = info;
    this.bytes = new Uint8Array(bytes);
    this.count = info.count;
    this.shape = info.shape;
    this.size = product(info.shape);
    this.source = info.source;
    // "digits" (the bundled MNIST sample) or "pictures" (a teacher's, with file names).
    this.kind = info.kind ?? "digits";
    this.lab = lab;
    if (this.bytes.length !== this.count * this.size) {
      throw new LabError(`The bundled digits file has ${this.bytes.length} bytes, expected ${this.count * this.size}.`);
    }
  }

  // [0, 1] pixels of digit i, H x W x C order (as stored).
  pixels(i) {
    const out = new Float32Array(this.size);
    const start = i * this.size;
    for (let p = 0; p < this.size; p += 1) out[p] = this.bytes[start + p] / 255;
    return out;
  }

  // Model-space input (C x H x W) of digit i.
  image(i) {
    const [h, w, c] = this.shape;
    const hwc = this.pixels(i);
    const chw = new Float32Array(this.size);
    for (let y = 0; y < h; y += 1) {
      for (let x = 0; x < w; x += 1) {
        for (let ch = 0; ch < c; ch += 1) chw[ch * h * w + y * w + x] = hwc[(y * w + x) * c + ch];
      }
    }
    return this.lab.toModelSpace(chw);
  }

  // Class index of sample i, or null when unknown (a picture outside the class folders).
  label(i) {
    return this.info.labels[i] ?? null;
  }

  // A picture's path in the teacher's folder ("cat/01.png"); null for a digit.
  name(i) {
    return this.info.names ? this.info.names[i] : null;
  }

  index(i) {
    return this.info.indices[i];
  }
}

class Lab {
  constructor(base, ortReady, manifest) {
    this.base = base;
    this.ort = null;
    this.ortReady = ortReady.then((ort) => {
      this.ort = ort;
      return ort;
    });
    this.manifest = manifest;
    this.models = manifest.models;
    this.model = null;
    this.digits = null;
    this.loaded = new Map();
    this.loading = new Map();
    this.queue = Promise.resolve();
  }

  entry(modelId) {
    const model = this.models.find((m) => m.id === modelId);
    if (!model) throw new LabError(`The site has no model "${modelId}".`);
    return model;
  }

  async loadModel(model) {
    const weightsUrl = new URL(model.weights, this.base);
    const weightsName = weightsUrl.pathname.split("/").pop();
    const graph = (key, what) => (model[key] ? fetchBytes(new URL(model[key], this.base), `the ${model.label} network's ${what}`) : null);
    const logitsBytes = graph("logits", "logits-only graph");
    logitsBytes?.catch(() => undefined); // awaited after the page answers
    const [forwardBytes, gradientBytes, weights] = await Promise.all([
      graph("forward", "graph"),
      graph("gradient", "gradient graph"),
      fetchBytes(weightsUrl, `the ${model.label} network's weights`),
      this.ortReady,
    ]);
    const options = {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      externalData: [{ path: weightsName, data: new Uint8Array(weights) }],
    };
    const create = async (bytes, what) => {
      try {
        return await withTimeout(
          this.ort.InferenceSession.create(new Uint8Array(bytes), options),
          START_TIMEOUT_MS,
          `Starting the ${model.label} network's ${what}`,
        );
      } catch (error) {
        if (error instanceof LabError) throw error;
        throw new LabError(`ONNX Runtime could not start the ${model.label} network's ${what}: ${error.message}`, error);
      }
    };
    const forward = await create(forwardBytes, "graph");
    const gradient = gradientBytes ? await create(gradientBytes, "gradient graph") : null;
    // Batches (occlusion, attacks) run on logits.onnx: without the feature-map outputs ONNX
    // Runtime fuses a convolution with its batch norm and ReLU. It starts after the page can
    // answer; until then, and on a site without it, the full graph.
    const sessions = { forward, gradient, weights, logits: forward };
    if (logitsBytes) {
      setTimeout(() => {
        this.serial(async () => create(await logitsBytes, "logits-only graph")).then(
          (session) => {
            sessions.logits = session;
          },
          (error) => console.warn(`Batches use the full graph: ${error.message}`),
        );
      }, 0);
    }
    return sessions;
  }

  async use(modelId) {
    const model = this.entry(modelId);
    if (!this.loaded.has(modelId)) {
      if (!this.loading.has(modelId)) {
        const pending = this.loadModel(model).then((sessions) => {
          this.loaded.set(modelId, sessions);
          return sessions;
        });
        pending.catch(() => this.loading.delete(modelId));
        this.loading.set(modelId, pending);
      }
      await this.loading.get(modelId);
    }
    this.model = model;
    return model;
  }

  sessions() {
    if (!this.model) throw new LabError("No model is selected: call lab.use(id) first.");
    return this.loaded.get(this.model.id);
  }

  // One ORT run at a time (ORT Web's wasm sessions do not run concurrently).
  serial(task) {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  inputTensor(x, n) {
    const shape = this.model.input.shape;
    if (x.length !== n * product(shape)) {
      throw new LabError(`Expected ${n} x ${shape.join(" x ")} = ${n * product(shape)} values, got ${x.length}.`);
    }
    const data = x instanceof Float32Array ? x : Float32Array.from(x);
    return new this.ort.Tensor("float32", data, [n, ...shape]);
  }

  async forward(x, n = 1) {
    const { forward } = this.sessions();
    const k = this.model.classes.length;
    const result = await this.serial(() => forward.run({ x: this.inputTensor(x, n) }));
    const outputs = {};
    for (const name of Object.keys(this.model.outputs)) {
      if (name !== "logits" && result[name]) outputs[name] = result[name].data;
    }
    const logits = result.logits.data;
    return { logits, probs: softmax(logits, n, k), outputs };
  }

  async logits(x, n = 1) {
    const sessions = this.sessions();
    const k = this.model.classes.length;
    const result = await this.serial(() => sessions.logits.run({ x: this.inputTensor(x, n) }, ["logits"]));
    const logits = result.logits.data;
    return { logits, probs: softmax(logits, n, k) };
  }

  hasGradient() {
    return Boolean(this.sessions().gradient);
  }

  async gradient(x, n, logitWeights, lseWeight) {
    const { gradient } = this.sessions();
    if (!gradient) throw new LabError(`The ${this.model.label} network has no gradient graph on this site.`);
    const k = this.model.classes.length;
    const feeds = {
      x: this.inputTensor(x, n),
      logit_weights: new this.ort.Tensor("float32", Float32Array.from(logitWeights), [n, k]),
      lse_weight: new this.ort.Tensor("float32", Float32Array.from(lseWeight), [n]),
    };
    const result = await this.serial(() => gradient.run(feeds));
    return { logits: result.logits.data, grad: result.grad.data };
  }

  param(name) {
    const spec = this.model.params[name];
    if (spec === undefined) throw new LabError(`The ${this.model.label} network has no parameter "${name}".`);
    if (typeof spec === "number") return spec;
    const { weights } = this.sessions();
    const view = new Float32Array(weights, spec.offset, product(spec.shape));
    view.shape = spec.shape;
    return view;
  }

  toModelSpace(pixels01) {
    const [low, high] = this.model ? this.model.input.bounds : this.models[0].input.bounds;
    const out = new Float32Array(pixels01.length);
    for (let i = 0; i < out.length; i += 1) out[i] = low + (high - low) * pixels01[i];
    return out;
  }

  toPixels(x) {
    const [low, high] = this.model.input.bounds;
    const out = new Float32Array(x.length);
    for (let i = 0; i < out.length; i += 1) out[i] = (x[i] - low) / (high - low);
    return out;
  }
}

async function readManifest(base) {
  const bytes = await fetchBytes(new URL("manifest.json", base), "the site's manifest");
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new LabError(`The site's manifest.json is not valid JSON: ${error.message}.`, error);
  }
  if (!Array.isArray(manifest.models) || manifest.models.length === 0) {
    throw new LabError("The site's manifest.json lists no model.");
  }
  return manifest;
}

// The manifest and ONNX Runtime load side by side; then the bundled digits and, if
// `model` is given (an id, or "default"), that network; `preferred` (an id) wins over
// "default" when the site has it.
export async function createLab(baseUrl, { model, preferred } = {}) {
  const base = new URL(baseUrl ?? ".", document.baseURI);
  const ort = loadOrt(base);
  ort.catch(() => undefined); // awaited below, through the lab
  const manifest = await readManifest(base);
  const lab = new Lab(base, ort, manifest);
  const digits = manifest.digits
    ? fetchBytes(new URL(manifest.digits.images, base), manifest.digits.kind === "pictures" ? "the pictures" : "the bundled test digits")
    : Promise.resolve(null);
  const known = manifest.models.some((m) => m.id === preferred);
  const fallback = manifest.default_model ?? manifest.models[0].id;
  const modelId = model === "default" ? (known ? preferred : fallback) : model;
  const [bytes] = await Promise.all([digits, modelId ? lab.use(modelId) : null, lab.ortReady]);
  if (bytes) lab.digits = new Digits(manifest.digits, bytes, lab);
  return lab;
}
