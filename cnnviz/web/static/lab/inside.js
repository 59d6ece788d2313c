// The Inside view: feature maps of the current input (the forward graph's named outputs),
// the filters (from weights.bin), and the computation of one unit (lab/unit.js).

import { colourBar, paint } from "./colormap.js";
import { bars, el, largest, paintInput, renderWhenShown } from "./panel_util.js";
import { addHooks, withModel } from "./testing.js";
import { UNIT_OF_MAP, arithmetic, plainTerms, unitComputation } from "./unit.js";

const MAP_LAYERS = ["conv1", "relu1", "pool1", "conv2", "conv2_bn", "relu2", "pool2"];
const MAP_WORDS = {
  conv1: "conv1: the 32 filters of the first layer slid over the digit (before ReLU)",
  relu1: "relu1: conv1 with negative values set to 0",
  pool1: "pool1: the largest value of each 2x2 block of relu1 (half the size)",
  conv2: "conv2: 32 filters, each reading all 32 pool1 maps",
  conv2_bn: "conv2_bn: conv2 after batch norm (running statistics)",
  relu2: "relu2: negative values set to 0",
  pool2: "pool2: 2x2 max pooling, 7x7 maps that fc1 reads",
};
const ZOOM = 8;

/** The network's named forward outputs as the unit computation reads them. */
function unitNet(lab, forward) {
  return {
    param: (name) => lab.param(name),
    outputs: forward.outputs,
    logits: forward.logits,
    batchnorm: Boolean(lab.model.batchnorm),
  };
}

/** The conv position a pooled position came from: the unit max pooling kept. */
function keptPosition(afterRelu, channel, size, row, col) {
  let best = [2 * row, 2 * col];
  for (let i = 0; i < 2; i += 1) {
    for (let j = 0; j < 2; j += 1) {
      const r = 2 * row + i;
      const c = 2 * col + j;
      if (afterRelu[(channel * size + r) * size + c] > afterRelu[(channel * size + best[0]) * size + best[1]]) {
        best = [r, c];
      }
    }
  }
  return best;
}

/** What input `k` of a fully connected unit is: a pool2 pixel or an fc1 neuron. */
function inputName(source, k) {
  if (source === "pool2") {
    const map = Math.floor(k / 49);
    return `pool2 map ${map} (${Math.floor((k % 49) / 7)}, ${k % 7})`;
  }
  return `fc1 neuron ${k}`;
}

function numberTable(values, padding, caption, highlight = -1) {
  const side = Math.round(Math.sqrt(values.length));
  const rows = [];
  for (let i = 0; i < side; i += 1) {
    const cells = [];
    for (let j = 0; j < side; j += 1) {
      const k = i * side + j;
      const text = padding && padding[k] ? "pad 0" : values[k].toFixed(3);
      cells.push(el("td", { class: [padding && padding[k] ? "pad" : "", k === highlight ? "kept" : ""].join(" ").trim(), text }));
    }
    rows.push(el("tr", {}, cells));
  }
  return el("table", { class: "numbers" }, [el("caption", { text: caption }), el("tbody", {}, rows)]);
}

function outlined(canvas, lab, x, field) {
  const small = document.createElement("canvas");
  paintInput(small, lab, x);
  canvas.width = 28 * ZOOM;
  canvas.height = 28 * ZOOM;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
  const [top, bottom, left, right] = field;
  context.strokeStyle = "#ff3b30";
  context.lineWidth = 3;
  context.strokeRect(left * ZOOM + 1.5, top * ZOOM + 1.5, (right - left) * ZOOM - 3, (bottom - top) * ZOOM - 3);
}

export async function mount(root, lab, state) {
  const view = {
    forward: null,
    layer: "conv1",
    channel: 0,
    cursor: [0, 0],
    unitChannel: null,
    terms: null,
  };
  const layerSelect = el("select", { id: "inside-layer" });
  const note = el("p", { class: "panel-note", id: "inside-note", role: "status" });
  const scale = el("div", { class: "colour-bar-box", id: "inside-map-scale" });
  const mapWords = el("p", { class: "panel-note", id: "inside-map-words" });
  const gallery = el("div", { class: "map-gallery", id: "inside-maps", role: "group", "aria-label": "feature maps" });
  const mapCanvas = el("canvas", {
    id: "inside-map",
    class: "zoomed",
    tabindex: "0",
    role: "application",
    "aria-roledescription": "feature map",
    "aria-label": "the chosen feature map: click a unit, or move with the arrow keys and press Enter",
    "aria-describedby": "inside-map-caption",
  });
  const mapCaption = el("figcaption", { id: "inside-map-caption", "aria-live": "polite" });
  const inputCanvas = el("canvas", { id: "inside-field", class: "zoomed", role: "img", "aria-label": "the input with the unit's receptive field outlined in red" });
  const fieldCaption = el("figcaption", { text: "The input; the red box is what the unit sees." });
  const unitBox = el("div", { id: "inside-unit", class: "unit-detail", "aria-live": "polite" });
  const fcLayer = el("select", { id: "inside-fc-layer" }, [
    el("option", { value: "fc1", text: "fc1 (500 neurons)" }),
    el("option", { value: "fc2", text: "fc2 (the 10 class scores)" }),
  ]);
  const fcUnit = el("input", { id: "inside-fc-unit", type: "number", min: "0", max: "499", value: "0", inputmode: "numeric" });
  const fcShow = el("button", { id: "inside-fc-show", type: "button", text: "Show this neuron" });
  const filterLayer = el("select", { id: "inside-filter-layer" }, [
    el("option", { value: "conv1", text: "conv1: 32 filters of 3x3" }),
    el("option", { value: "conv2", text: "conv2: 32 filters per channel" }),
  ]);
  const filterChannel = el("select", { id: "inside-filter-channel", "aria-label": "conv2 output channel" });
  for (let c = 0; c < 32; c += 1) filterChannel.append(el("option", { value: String(c), text: `output channel ${c}` }));
  const filterScale = el("div", { class: "colour-bar-box", id: "inside-filter-scale" });
  const filterWords = el("p", { class: "panel-note", id: "inside-filter-words" });
  const filterGallery = el("div", { class: "filter-gallery", id: "inside-filters", role: "group", "aria-label": "filters" });

  const mapsPart = el("div", { class: "inside-part", id: "inside-maps-part" }, [
    el("label", { class: "control" }, [el("span", { text: "Layer " }), layerSelect]),
    mapWords,
    el("div", { class: "maps-with-scale" }, [gallery, scale]),
    el("div", { class: "map-pair" }, [
      el("figure", {}, [mapCanvas, mapCaption]),
      el("figure", {}, [inputCanvas, fieldCaption]),
    ]),
  ]);
  const unitPart = el("div", { class: "inside-part" }, [
    el("h3", { text: "Inside one unit" }),
    el("div", { class: "control-row" }, [
      el("label", { class: "control" }, [el("span", { text: "Fully connected layer " }), fcLayer]),
      el("label", { class: "control" }, [el("span", { text: "Neuron " }), fcUnit]),
      fcShow,
    ]),
    unitBox,
  ]);
  const filterPart = el("div", { class: "inside-part" }, [
    el("h3", { text: "Filters (the weights the network learned)" }),
    el("div", { class: "control-row" }, [
      el("label", { class: "control" }, [el("span", { text: "Filters of " }), filterLayer]),
      filterChannel,
    ]),
    filterWords,
    el("div", { class: "maps-with-scale" }, [filterGallery, filterScale]),
  ]);
  root.replaceChildren(
    el("p", {
      class: "panel-intro",
      text:
        "Each layer turns the digit into 32 feature maps: bright where a filter matches. " +
        "Pick a layer, then a map, then a unit (a pixel of the map) to see exactly how its number is computed.",
    }),
    note,
    mapsPart,
    unitPart,
    filterPart,
  );

  function mapShape() {
    return lab.model.outputs[view.layer];
  }

  function fillLayers() {
    const present = MAP_LAYERS.filter((name) => name in lab.model.outputs);
    layerSelect.replaceChildren(...present.map((name) => el("option", { value: name, text: name })));
    if (!present.includes(view.layer)) view.layer = present[0];
    layerSelect.value = view.layer;
  }

  function drawGallery() {
    const [channels, h, w] = mapShape();
    const maps = view.forward.outputs[view.layer];
    const signed = view.layer.startsWith("conv");
    const top = largest(maps);
    const options = signed ? { cmap: "RdBu_r", low: -top, high: top } : { cmap: "viridis", low: 0, high: top };
    colourBar(scale, {
      ...options,
      ticks: signed ? [`+${top.toFixed(2)}`, "0", `-${top.toFixed(2)}`] : [top.toFixed(2), "0"],
      label: `${view.layer}, all ${channels} maps`,
    });
    mapWords.textContent = `${MAP_WORDS[view.layer]}. One colour scale for all ${channels} maps.`;
    view.options = options;
    const cells = gallery.children;
    const reuse = cells.length === channels && gallery.dataset.layer === view.layer;
    if (!reuse) {
      gallery.replaceChildren();
      gallery.dataset.layer = view.layer;
    }
    for (let c = 0; c < channels; c += 1) {
      const values = maps.subarray(c * h * w, (c + 1) * h * w);
      if (reuse) {
        paint(cells[c].firstChild, values, w, h, options); // the same cells, repainted
        continue;
      }
      const canvas = el("canvas", { "aria-hidden": "true" });
      paint(canvas, values, w, h, options);
      const button = el("button", {
        type: "button",
        class: c === view.channel ? "map-cell chosen" : "map-cell",
        "aria-pressed": c === view.channel ? "true" : "false",
        "aria-label": `${view.layer} map ${c}`,
        "data-channel": String(c),
      }, [canvas, el("span", { text: String(c) })]);
      button.addEventListener("click", () => chooseMap(c));
      gallery.append(button);
    }
  }

  function drawMap() {
    const [, h, w] = mapShape();
    const maps = view.forward.outputs[view.layer];
    const small = document.createElement("canvas");
    small.width = w;
    small.height = h;
    paint(small, maps.subarray(view.channel * h * w, (view.channel + 1) * h * w), w, h, view.options);
    const zoom = Math.round(224 / w);
    mapCanvas.width = w * zoom;
    mapCanvas.height = h * zoom;
    const context = mapCanvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, mapCanvas.width, mapCanvas.height);
    const [row, col] = view.cursor;
    context.strokeStyle = "#00c2ff";
    context.lineWidth = 2;
    context.strokeRect(col * zoom + 1, row * zoom + 1, zoom - 2, zoom - 2);
    const value = maps[(view.channel * h + row) * w + col];
    mapCaption.textContent = `${view.layer} map ${view.channel}, ${h}x${w}; unit at row ${row}, column ${col} = ${value.toFixed(4)}. ` +
      "Click a unit, or use the arrow keys and Enter.";
  }

  function chooseMap(channel) {
    view.channel = channel;
    if (UNIT_OF_MAP[view.layer] === "conv2" && filterLayer.value === "conv2") {
      filterChannel.value = String(channel); // the filters that made this map
      drawFilters();
    }
    for (const button of gallery.children) {
      const chosen = Number(button.dataset.channel) === channel;
      button.classList.toggle("chosen", chosen);
      button.setAttribute("aria-pressed", chosen ? "true" : "false");
    }
    drawMap();
    openConvUnit();
  }

  function showTerms(terms, context = "") {
    view.terms = terms;
    view.context = context;
    const where = terms.position
      ? `${terms.layer} channel ${terms.unit} at row ${terms.position[0]}, column ${terms.position[1]}`
      : `${terms.layer} neuron ${terms.unit}${terms.layer === "fc2" ? ` (the score of class ${lab.model.classes[terms.unit]})` : ""}`;
    const reads = {
      image: `the 3x3 pixels around it in the input (${lab.model.input.bounds[0]} = black, ${lab.model.input.bounds[1]} = white; "pad 0" outside the image)`,
      pool1: "a 3x3 window of each of the 32 pool1 maps (32 x 9 = 288 inputs)",
      pool2: "all 1568 values of pool2 (32 maps of 7x7)",
      relu3: "all 500 neurons of fc1 after ReLU",
    }[terms.source];
    const parts = [
      el("p", { class: "unit-heading", text: `${context}${where} reads ${reads}, multiplies each by a weight, adds them up and adds a bias.` }),
      el("pre", { class: "unit-arithmetic", id: "inside-arithmetic", text: arithmetic(terms).join("\n") }),
    ];
    if (terms.position) {
      const channels = terms.shape[0];
      if (view.unitChannel === null || view.unitChannel >= channels) {
        view.unitChannel = channels === 1 ? 0 : terms.pushes.indices[0] ?? 0;
      }
      const c = view.unitChannel;
      const slice = (values) => values.slice(c * 9, c * 9 + 9);
      const grids = el("div", { class: "number-grids" }, [
        numberTable(slice(terms.inputs), slice(terms.padding), channels === 1 ? "input window" : `pool1 map ${c}: inputs`),
        numberTable(slice(terms.weights), null, "weights"),
        numberTable(slice(terms.products), slice(terms.padding), "input x weight"),
      ]);
      if (channels > 1) {
        const pick = el("select", { id: "inside-unit-channel", "aria-label": "input channel shown in the tables" });
        for (let k = 0; k < channels; k += 1) {
          pick.append(el("option", { value: String(k), text: `input channel ${k}: sum ${terms.channelSums[k].toFixed(4)}` }));
        }
        pick.value = String(c);
        pick.addEventListener("change", () => {
          view.unitChannel = Number(pick.value);
          showTerms(view.terms, view.context);
        });
        parts.push(
          bars(
            terms.pushes.indices.map((k, i) => ({ label: `channel ${k}`, value: terms.pushes.values[i] })),
            { caption: `The input channels that push this unit up or down most (${terms.pushMeaning})` },
          ),
          el("label", { class: "control" }, [el("span", { text: "Show the numbers of " }), pick]),
        );
      }
      parts.push(grids);
      const kept = terms.pool.kept[0] * 2 + terms.pool.kept[1];
      parts.push(
        el("p", {
          class: "panel-note",
          text: `2x2 max pooling (after ReLU) keeps the largest of 4 neighbours: ${terms.pool.value.toFixed(4)}, ` +
            `${terms.pool.unitWasKept ? "this unit" : "another unit"} (outlined).`,
        }),
        el("div", { class: "number-grids" }, [numberTable(terms.pool.window, null, "the pooling window", kept)]),
      );
    } else {
      parts.push(
        bars(
          terms.pushes.indices.map((k, i) => ({ label: inputName(terms.source, k), value: terms.pushes.values[i] })),
          { caption: `The strongest pushes up and down (${terms.pushMeaning}) of ${terms.inputs.length} inputs` },
        ),
      );
    }
    unitBox.replaceChildren(...parts);
    outlined(inputCanvas, lab, state.x, terms.receptiveField);
  }

  function openConvUnit() {
    const unitLayer = UNIT_OF_MAP[view.layer];
    let position = view.cursor;
    let context = "";
    if (view.layer.startsWith("pool")) {
      const relu = view.layer === "pool1" ? "relu1" : "relu2";
      const size = lab.model.outputs[relu][1];
      position = keptPosition(view.forward.outputs[relu], view.channel, size, ...view.cursor);
      context = `${view.layer} at row ${view.cursor[0]}, column ${view.cursor[1]} is the largest of 4 ${unitLayer} units ` +
        "after ReLU; here is the one it kept. ";
    } else if (view.layer !== unitLayer) {
      const steps = { relu1: "ReLU", conv2_bn: "batch norm", relu2: lab.model.batchnorm ? "batch norm and ReLU" : "ReLU" };
      context = `${view.layer} is ${unitLayer} after ${steps[view.layer]}. `;
    }
    view.unitChannel = null;
    showTerms(unitComputation(unitNet(lab, view.forward), state.x, unitLayer, view.channel, position), context);
  }

  function moveCursor(row, col) {
    const [, h, w] = mapShape();
    view.cursor = [Math.min(Math.max(row, 0), h - 1), Math.min(Math.max(col, 0), w - 1)];
    drawMap();
  }

  function drawFilters() {
    const name = filterLayer.value;
    filterChannel.hidden = name !== "conv2";
    const weight = lab.param(`${name}.weight`);
    const [out, inputs] = weight.shape;
    const first = name === "conv1" ? 0 : Number(filterChannel.value) * inputs * 9;
    const values = weight.subarray(first, first + 32 * 9);
    const top = largest(name === "conv1" ? weight : values);
    const options = { cmap: "RdBu_r", low: -top, high: top };
    const words = name === "conv1"
      ? `conv1: ${out} filters of 3x3 on the image. Red weights add where the pixel is bright, blue ones subtract.`
      : `conv2 output channel ${filterChannel.value}: its 3x3 filter on each of the ${inputs} pool1 maps (red adds, blue subtracts).`;
    colourBar(filterScale, { ...options, ticks: [`+${top.toFixed(2)}`, "0", `-${top.toFixed(2)}`], label: words });
    filterWords.textContent = words;
    filterGallery.replaceChildren();
    for (let k = 0; k < 32; k += 1) {
      const canvas = el("canvas", { role: "img", "aria-label": `${name} filter ${k}` });
      canvas.width = 3;
      canvas.height = 3;
      paint(canvas, values.subarray(k * 9, k * 9 + 9), 3, 3, options);
      filterGallery.append(el("figure", { class: "filter-cell" }, [canvas, el("figcaption", { text: String(k) })]));
    }
  }

  const reportCnn = () => lab.model.kind === "report-cnn";

  async function render(isCurrent) {
    view.forward = null;
    unitBox.replaceChildren();
    const report = reportCnn();
    unitPart.hidden = !report;
    filterPart.hidden = !report;
    mapsPart.hidden = !report || !state.x;
    if (!report) {
      note.textContent = `The ${lab.model.label} network is not the report's CNN: this view opens only the report's layers.`;
      return;
    }
    fillLayers();
    if (view.filtersOf !== lab.model.id) {
      view.filtersOf = lab.model.id; // the filters change with the network, not the input
      drawFilters();
    }
    if (!state.x) {
      note.textContent = "Draw a digit (or pick a random test digit) to see its feature maps.";
      return;
    }
    const forward = state.outputs && state.prediction
      ? { outputs: state.outputs, logits: state.prediction.logits }
      : await lab.forward(state.x, 1);
    if (!isCurrent()) return;
    view.forward = forward;
    note.textContent = state.source === "digit"
      ? `Test digit #${state.digitIndex ?? ""} (label ${state.label ?? "?"}).`
      : "Your drawing.";
    drawGallery();
    moveCursor(...view.cursor);
    openConvUnit();
  }

  const { run } = renderWhenShown(root, state, render);

  layerSelect.addEventListener("change", () => {
    view.layer = layerSelect.value;
    if (!view.forward) return;
    drawGallery();
    moveCursor(...view.cursor);
    openConvUnit();
  });
  mapCanvas.addEventListener("click", (event) => {
    if (!view.forward) return;
    const box = mapCanvas.getBoundingClientRect();
    const [, h, w] = mapShape();
    moveCursor(Math.floor(((event.clientY - box.top) / box.height) * h), Math.floor(((event.clientX - box.left) / box.width) * w));
    openConvUnit();
  });
  mapCanvas.addEventListener("keydown", (event) => {
    if (!view.forward) return;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (event.key in moves) {
      event.preventDefault();
      moveCursor(view.cursor[0] + moves[event.key][0], view.cursor[1] + moves[event.key][1]);
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openConvUnit();
    }
  });
  fcLayer.addEventListener("change", () => {
    fcUnit.max = fcLayer.value === "fc1" ? "499" : String(lab.model.classes.length - 1);
    fcUnit.value = String(Math.min(Number(fcUnit.value), Number(fcUnit.max)));
  });
  fcShow.addEventListener("click", () => {
    if (!view.forward) {
      unitBox.replaceChildren(el("p", { class: "panel-note", text: "Draw a digit first: a neuron's numbers depend on the input." }));
      return;
    }
    const unit = Math.min(Math.max(Math.round(Number(fcUnit.value)) || 0, 0), Number(fcUnit.max));
    fcUnit.value = String(unit);
    showTerms(unitComputation(unitNet(lab, view.forward), state.x, fcLayer.value, unit));
  });
  filterLayer.addEventListener("change", drawFilters);
  filterChannel.addEventListener("change", drawFilters);

  addHooks({
    unit(model, x, layer, unit, position = null) {
      return withModel(lab, model, async () => {
        const input = Float32Array.from(x);
        const forward = await lab.forward(input, 1);
        return plainTerms(unitComputation(unitNet(lab, forward), input, layer, unit, position));
      });
    },
  });
  await run();
}
