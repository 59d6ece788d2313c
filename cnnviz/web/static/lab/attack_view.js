// The Attack view: FGSM and PGD-40 on the current input (lab/attacks.js), the attacked
// image, the change with its colour bar and size, and the new prediction.

import { fgsm, pgd } from "./attacks.js";
import { colourBar, paint } from "./colormap.js";
import { el, inputWord, largest, linePlot, paintInput, percent, renderWhenShown } from "./panel_util.js";
import { addHooks, plain, withModel } from "./testing.js";

const METHODS = {
  fgsm: () => "FGSM: one step of size eps in the direction that raises the error most",
  pgd: (word) => `PGD-40: 40 smaller steps from a random start, staying within eps of your ${word}`,
};

function plainResult(result) {
  return {
    images: plain(result.images),
    prediction: result.prediction,
    probs: plain(result.probs),
    success: result.success,
    linf: result.linf,
    l2: result.l2,
    logitHistory: result.logitHistory,
    probabilityHistory: result.probabilityHistory,
    ms: result.ms,
  };
}

export async function mount(root, lab, state) {
  const word = inputWord(lab);
  const method = el("select", { id: "attack-method" }, [
    el("option", { value: "fgsm", text: "FGSM (one step)" }),
    el("option", { value: "pgd", text: "PGD-40 (40 steps)" }),
  ]);
  const eps = el("input", { id: "attack-eps", type: "range", min: "0", max: "0.4", step: "0.01", value: "0.2" });
  const epsText = el("output", { id: "attack-eps-value", for: "attack-eps", text: "0.20" });
  const seed = el("input", { id: "attack-seed", type: "number", min: "0", max: "999999", step: "1", value: "0", inputmode: "numeric" });
  const seedBox = el("label", { class: "control", id: "attack-seed-box" }, [el("span", { text: "Random start seed " }), seed]);
  const run = el("button", { id: "attack-run", type: "button", class: "primary", text: "Attack" });
  const explain = el("p", { class: "panel-note", id: "attack-method-note", text: METHODS.fgsm(word) });
  const note = el("p", { class: "panel-note", id: "attack-note", role: "status" });
  const before = el("canvas", { id: "attack-original", class: "zoomed", role: "img", "aria-label": `the ${word} before the attack` });
  const change = el("canvas", { id: "attack-perturbation", class: "zoomed", role: "img", "aria-label": "the change the attack made to each pixel" });
  const after = el("canvas", { id: "attack-image", class: "zoomed", role: "img", "aria-label": `the attacked ${word}` });
  const bar = el("div", { class: "colour-bar-box", id: "attack-scale" });
  const beforeCaption = el("figcaption", { id: "attack-before-caption", text: "Your digit" });
  const changeCaption = el("figcaption", { id: "attack-change-caption", text: "The change (red: brighter, blue: darker)" });
  const afterCaption = el("figcaption", { id: "attack-after-caption", text: "After the attack" });
  const verdict = el("p", { id: "attack-result", class: "attack-verdict", "aria-live": "polite" });
  const curve = el("canvas", { id: "attack-curve", role: "img", "aria-label": `the probability of your ${word}'s class after each step` });
  const curveCaption = el("figcaption", { id: "attack-curve-caption" });
  const curveBox = el("figure", { class: "attack-curve-box", hidden: true }, [curve, curveCaption]);
  const size = el("p", { id: "attack-size", class: "panel-note" });
  const figures = el("div", { class: "attack-figures", id: "attack-figures" }, [
    el("figure", {}, [before, beforeCaption]),
    el("figure", {}, [el("div", { class: "with-bar" }, [change, bar]), changeCaption]),
    el("figure", {}, [after, afterCaption]),
  ]);
  root.replaceChildren(
    el("p", {
      class: "panel-intro",
      text:
        `An adversarial attack changes every pixel of your ${word} by at most eps (0 = black, 1 = white), ` +
        `in the direction that makes the network most wrong. A small eps is almost invisible to you; does the network still read your ${word}?`,
    }),
    el("div", { class: "control-row" }, [
      el("label", { class: "control" }, [el("span", { text: "Method " }), method]),
      el("label", { class: "control" }, [el("span", { text: "eps (largest change per pixel) " }), eps, epsText]),
      seedBox,
      run,
    ]),
    explain,
    note,
    figures,
    verdict,
    size,
    curveBox,
  );

  let lastRun = 0;

  function ready() {
    if (lab.model.gradient === null || lab.model.gradient === undefined) {
      note.textContent = `The ${lab.model.label} network has no gradient graph on this site, so it cannot be attacked here.`;
      return false;
    }
    if (!state.x || !state.prediction) {
      note.textContent = inputWord(lab) === "picture"
        ? 'Pick a picture ("Random image" in the Draw view) first, then press Attack.'
        : "Draw a digit (or pick a random test digit) first, then press Attack.";
      return false;
    }
    return true;
  }

  function clear() {
    for (const canvas of [change, after]) canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    figures.classList.add("empty");
    curveBox.hidden = true;
    bar.replaceChildren();
    verdict.textContent = "";
    size.textContent = "";
  }

  function show(result, name, budget) {
    const [c, h, w] = lab.model.input.shape;
    const classes = lab.model.classes;
    const scale = lab.model.input.bounds[1] - lab.model.input.bounds[0];
    const delta = result.images.map((v, i) => (v - result.originals[i]) / scale);
    // A colour picture's change per pixel: the mean over its channels (brighter or darker).
    const shown = new Float32Array(h * w);
    for (let p = 0; p < h * w; p += 1) {
      for (let ch = 0; ch < c; ch += 1) shown[p] += delta[ch * h * w + p] / c;
    }
    const top = largest(shown, 1e-3);
    paint(change, shown, w, h, { cmap: "RdBu_r", low: -top, high: top });
    changeCaption.textContent = c === 1
      ? "The change (red: brighter, blue: darker)"
      : "The change, averaged over red, green and blue (red: brighter, blue: darker)";
    colourBar(bar, { cmap: "RdBu_r", low: -top, high: top, ticks: [`+${top.toFixed(2)}`, "0", `-${top.toFixed(2)}`], label: "change per pixel" });
    paintInput(after, lab, result.images);
    figures.classList.remove("empty");
    const was = `${classes[result.label]} (${percent(state.prediction.probs[result.label])})`;
    const now = `${classes[result.prediction]} (${percent(result.probs[result.prediction])})`;
    afterCaption.textContent = `After ${name}: read as ${now}`;
    verdict.textContent = result.success
      ? `The attack worked: the network read ${was}, and now reads ${now}, although no pixel changed by more than ${budget.toFixed(2)}.`
      : `The attack failed: the network still reads ${now} (it read ${was}). Try a larger eps${name === "FGSM" ? " or PGD-40" : ""}.`;
    verdict.classList.toggle("success", result.success);
    curveBox.hidden = false;
    linePlot(curve, result.probabilityHistory.map((p) => [p]), { yLabel: `p(${classes[result.label]})`, low: 0, high: 1, height: 160, digits: 1 });
    curveCaption.textContent =
      `How sure the network is that this is a ${classes[result.label]}, before each of the ${result.steps} step(s) and after the last.`;
    size.textContent =
      `Size of the change in pixel units: largest change of one pixel (L-inf) ${result.linf.toFixed(3)}, ` +
      `length of the whole change (L2) ${result.l2.toFixed(3)}. Computed in your browser in ${result.ms.toFixed(0)} ms.`;
  }

  async function attack() {
    if (!ready()) {
      clear();
      return;
    }
    lastRun += 1;
    const mine = lastRun;
    verdict.textContent = "";
    size.textContent = "";
    const name = method.value === "pgd" ? "PGD-40" : "FGSM";
    const budget = Number(eps.value);
    const label = state.prediction.top;
    const x = state.x;
    run.disabled = true;
    note.textContent = `Running ${name} with eps = ${budget.toFixed(2)}\u2026`;
    try {
      const started = performance.now();
      const result = method.value === "pgd"
        ? await pgd(lab, x, label, { eps: budget, steps: 40, seed: Number(seed.value) || 0 })
        : await fgsm(lab, x, label, { eps: budget });
      result.ms = performance.now() - started;
      if (mine !== lastRun || x !== state.x) return;
      note.textContent = "";
      show(result, name, budget);
    } catch (error) {
      console.error(error);
      note.textContent = `The attack could not run: ${error.message}`;
    } finally {
      run.disabled = false;
    }
  }

  function render() {
    lastRun += 1;
    clear();
    if (state.x) paintInput(before, lab, state.x);
    else before.getContext("2d").clearRect(0, 0, before.width, before.height);
    if (!ready()) return;
    const classes = lab.model.classes;
    beforeCaption.textContent = `Your ${inputWord(lab)}: read as ${classes[state.prediction.top]} (${percent(state.prediction.probs[state.prediction.top])})`;
    note.textContent = "Choose a method and eps, then press Attack.";
  }

  renderWhenShown(root, state, render);
  // Once an attack is shown, a new method, eps or seed attacks again (on release of the slider).
  const again = () => {
    if (!figures.classList.contains("empty")) attack();
  };
  method.addEventListener("change", () => {
    explain.textContent = METHODS[method.value](word);
    seedBox.hidden = method.value !== "pgd";
    again();
  });
  eps.addEventListener("change", again);
  seed.addEventListener("change", again);
  seedBox.hidden = true;
  eps.addEventListener("input", () => {
    epsText.textContent = Number(eps.value).toFixed(2);
  });
  run.addEventListener("click", attack);

  addHooks({
    fgsm(model, x, label, budget) {
      return withModel(lab, model, async () => plainResult(await fgsm(lab, Float32Array.from(x), label, { eps: budget })));
    },
    // One step of cnnviz.pgd from the start clip(x + noise * eps), noise in [-1, 1].
    pgdStep(model, x, label, budget, stepSize, noise) {
      return withModel(lab, model, async () =>
        plainResult(await pgd(lab, Float32Array.from(x), label, { eps: budget, steps: 1, stepSize, noise })),
      );
    },
    pgd(model, x, label, options = {}) {
      return withModel(lab, model, async () => {
        const started = performance.now();
        const result = await pgd(lab, Float32Array.from(x), label, { eps: 0.3, steps: 40, ...options });
        result.ms = performance.now() - started;
        return plainResult(result);
      });
    },
  });
  render();
}
