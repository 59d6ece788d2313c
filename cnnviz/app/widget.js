// The Draw tab's widget (gr.HTML's js_on_load: `element` is the component, `props` its
// properties): the in-browser lab in an iframe. The lab tells this page its drawing once it
// settles; the drawing becomes the component's value (its "change" event clears the attack
// panels in the page), which the server's tabs read when a button is pressed: no stroke
// reaches the server. The app's model switch drives the lab
// (window.cnnvizWidget.model, called by the switch's client-side event), and the iframe is
// as tall as the lab's content, so no inner scrollbar cuts the pictures.

const frame = element.querySelector("iframe");
const labModels = window.cnnviz.labModels;

function chosenModel() {
  const checked = document.querySelector("#model input[type=\"radio\"]:checked");
  return checked ? checked.value : null;
}

function sendModel(name) {
  const model = labModels[name];
  const note = element.querySelector(".lab-own-model");
  if (note) note.hidden = model !== undefined || name === null;
  if (model === undefined || !frame.contentWindow) return;
  frame.contentWindow.postMessage({ type: "cnnviz:model", model }, window.location.origin);
}

window.cnnvizWidget = { model: sendModel };

// A link's test digit (?tab=inside&digit=N) reaches the page after the Inside tab opened
// on the empty drawing: that tab is opened again on the digit (its select event reads the
// drawing; a click on the tab already open sends none).
let linkDigit = false;

function reopenInside() {
  const tabs = [...document.querySelectorAll("#tabs [role=\"tab\"]")];
  const open = tabs.find((tab) => tab.getAttribute("aria-selected") === "true");
  const draw = tabs.find((tab) => tab.textContent.trim() === "Draw");
  if (!open || !draw || open.textContent.trim() !== "Inside") return;
  draw.click();
  setTimeout(() => open.click(), 0);
}

window.addEventListener("message", (event) => {
  if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
  const data = event.data ?? {};
  if (data.type === "cnnviz:height" && Number.isFinite(data.height)) {
    frame.style.height = `${Math.max(200, Math.ceil(data.height))}px`;
  } else if (data.type === "cnnviz:ready") {
    sendModel(chosenModel());
    const digit = new URLSearchParams(window.location.search).get("digit");
    if (digit !== null && /^\d+$/.test(digit)) {
      linkDigit = true;
      frame.contentWindow.postMessage({ type: "cnnviz:digit", index: Number(digit) }, window.location.origin);
    }
  } else if (data.type === "cnnviz:drawing") {
    const pixels = Array.isArray(data.pixels) ? data.pixels : null;
    props.value = JSON.stringify({ pixels, model: data.model, digit: data.digit, label: data.label });
    if (linkDigit && pixels !== null) {
      linkDigit = false;
      setTimeout(reopenInside, 0);
    }
  }
});
