// The Classes view: what the network thinks each class looks like (R12), grown from
// noise in the browser (lab/classes.js), with the logit of each class step by step.

import { CLASS_DEFAULTS, classImages } from "./classes.js";
import { PALETTE, el, linePlot, paintInput, renderWhenShown } from "./panel_util.js";
import { addHooks, plain, withModel } from "./testing.js";

export async function mount(root, lab, state) {
  const seed = el("input", { id: "classes-seed", type: "number", min: "0", max: "999999", step: "1", value: "0", inputmode: "numeric" });
  const run = el("button", { id: "classes-run", type: "button", class: "primary", text: "Grow the class images" });
  const note = el("p", { class: "panel-note", id: "classes-note", role: "status" });
  const grid = el("div", { class: "class-grid", id: "classes-images" });
  const plot = el("canvas", { id: "classes-plot", role: "img", "aria-label": "the logit of each class at each step" });
  const legend = el("ol", { class: "plot-legend", id: "classes-legend", "aria-label": "colour of each class in the plot" });
  const figure = el("figure", { class: "classes-plot-box", hidden: true }, [
    plot,
    el("figcaption", { text: "The score (logit) of each class at each step; a line stays flat once its class reached p >= 0.99." }),
    legend,
  ]);
  const names = lab.model.classes; // a teacher's site has one network: its class names
  const example = names[Math.min(3, names.length - 1)];
  const count = names.length === 10 ? "ten" : String(names.length);
  root.replaceChildren(
    el("p", {
      class: "panel-intro",
      text:
        `What does the network think a ${example} looks like? Start from grey noise and change the pixels, step by step, ` +
        `so that the network becomes more sure it sees each class, until it is ${Math.round(100 * CLASS_DEFAULTS.threshold)} % sure ` +
        `(at most ${CLASS_DEFAULTS.steps} steps). All ${count} images grow at once, here in your browser.`,
    }),
    el("div", { class: "control-row" }, [
      el("label", { class: "control" }, [el("span", { text: "Start noise seed " }), seed]),
      run,
    ]),
    note,
    grid,
    figure,
  );

  function clear(message) {
    grid.replaceChildren();
    figure.hidden = true;
    note.textContent = message;
  }

  function show(result) {
    const classes = lab.model.classes;
    const [, h, w] = lab.model.input.shape;
    const size = lab.model.input.shape.reduce((a, b) => a * b, 1);
    grid.replaceChildren();
    result.targets.forEach((target, i) => {
      const canvas = el("canvas", { class: "zoomed", role: "img", "aria-label": `class image of ${classes[target]}` });
      paintInput(canvas, lab, result.images.subarray(i * size, (i + 1) * size));
      const probability = result.probabilities[i].toFixed(3);
      const reached = result.success[i] && result.steps[i] === 0
        ? `p = ${probability} already on the grey noise (0 steps)`
        : result.success[i]
          ? `reached p = ${probability} in ${result.steps[i]} steps`
        : `not reached: p = ${probability} after ${result.steps[i]} steps`;
      grid.append(
        el("figure", { class: result.success[i] ? "class-cell reached" : "class-cell missed", "data-class": String(target) }, [
          canvas,
          el("figcaption", {}, [el("strong", { text: classes[target] }), el("span", { text: ` ${reached}` })]),
        ]),
      );
    });
    legend.replaceChildren(
      ...result.targets.map((target, i) => {
        const swatch = el("span", { class: "swatch" });
        swatch.style.background = PALETTE[i % PALETTE.length];
        return el("li", {}, [swatch, el("span", { text: classes[target] })]);
      }),
    );
    figure.hidden = false;
    linePlot(plot, result.logitHistory, { yLabel: "logit" });
    const reached = result.success.filter(Boolean).length;
    note.textContent =
      `${reached} of ${result.targets.length} classes reached p >= ${CLASS_DEFAULTS.threshold} ` +
      `in ${result.logitHistory.length - 1} steps at most; computed in your browser in ${(result.ms / 1000).toFixed(2)} s.`;
  }

  let generation = 0;
  async function grow() {
    if (!lab.model.gradient) {
      clear(`The ${lab.model.label} network has no gradient graph on this site, so its class images cannot be grown here.`);
      return;
    }
    generation += 1;
    const mine = generation;
    const model = lab.model.id;
    run.disabled = true;
    clear("Growing\u2026 step 0");
    try {
      const result = await classImages(lab, {
        seed: Number(seed.value) || 0,
        stop: () => mine !== generation,
        onStep: (step, progress) => {
          if (mine !== generation) return; // another network was chosen: this run is discarded
          note.textContent = `Growing\u2026 step ${step}, ${progress.active.length} classes still below p = ${CLASS_DEFAULTS.threshold}`;
        },
      });
      if (mine === generation && model === lab.model.id) show(result);
    } catch (error) {
      console.error(error);
      note.textContent = `The class images could not be grown: ${error.message}`;
    } finally {
      run.disabled = false;
    }
  }

  renderWhenShown(root, state, () => {
    if (state.modelId === root.dataset.model) return;
    root.dataset.model = state.modelId ?? "";
    generation += 1;
    clear(`Press the button to grow one image per class for the ${lab.model.label} network (your drawing is not used).`);
  });
  run.addEventListener("click", grow);
  root.dataset.model = lab.model.id;
  clear(`Press the button to grow one image per class for the ${lab.model.label} network (your drawing is not used).`);

  addHooks({
    classImages(model, options = {}) {
      return withModel(lab, model, async () => {
        const result = await classImages(lab, options);
        return {
          images: plain(result.images),
          targets: result.targets,
          success: result.success,
          steps: result.steps,
          probabilities: result.probabilities,
          predictions: result.predictions,
          logitHistory: result.logitHistory,
          probabilityHistory: result.probabilityHistory,
          ms: result.ms,
        };
      });
    },
  });
}
