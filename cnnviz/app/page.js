// The page's own behaviour around Gradio's widgets: the brush picked, typed numbers
// applied when committed, and the address kept up to date with the tab, model and digit.
// window.cnnviz (set by page.py): {tabs: {label: id}, models: {name: key}}.

const settings = window.cnnviz;

// Gradio 6 opens the sketchpad with no tool and resets it on "Clear": pick the brush
// on load and after every clear, so the first stroke draws.
function pickBrush(tries) {
  const brush = document.querySelector("#sketchpad button[aria-label=\"Brush\"]");
  if (brush && brush.classList.contains("highlight")) return;
  if (brush) brush.click();
  if (tries > 0) setTimeout(() => pickBrush(tries - 1), 150);
}
document.addEventListener("click", (event) => {
  if (event.target.closest("#sketchpad button[aria-label=\"Clear canvas\"]")) {
    setTimeout(() => pickBrush(20), 150);
  }
}, true);
pickBrush(200);

// Number boxes: Gradio sends every keystroke (typing 12 sent 1, out of range). Here a
// typed value is sent once, on Enter or when the box is left, corrected into the box's
// range (whole numbers where the step is whole) with one sentence saying so.
const committed = new WeakMap();

function numberBox(target) {
  return target instanceof HTMLInputElement && target.type === "number" ? target : null;
}

function boxName(box) {
  const aria = box.getAttribute("aria-label") || "";
  if (aria.startsWith("number input for ")) return aria.slice("number input for ".length);
  const block = box.closest(".block");
  const title = block ? block.querySelector("[data-testid=\"block-info\"], label span") : null;
  return title ? title.textContent.trim() : "This box";
}

// "from 0 to 31", or one end only where the box has no other (a box without min or max).
function rangeText(low, high) {
  if (Number.isFinite(low) && Number.isFinite(high)) return `from ${low} to ${high}`;
  if (Number.isFinite(low)) return `of ${low} or more`;
  if (Number.isFinite(high)) return `of ${high} or less`;
  return "";
}

function corrected(box) {
  const low = box.min === "" ? -Infinity : parseFloat(box.min);
  const high = box.max === "" ? Infinity : parseFloat(box.max);
  const whole = parseFloat(box.step) >= 1;
  const before = committed.get(box) ?? box.defaultValue;
  const typed = box.value.trim();
  const value = parseFloat(typed);
  const range = rangeText(low, high);
  if (!Number.isFinite(value)) {
    return [before, `${boxName(box)}: type a number${range && ` ${range}`}; kept ${before}.`];
  }
  let fixed = Math.min(Math.max(value, low), high);
  if (whole) fixed = Math.round(fixed);
  if (fixed === value) return [typed, ""];
  const why = value < low || value > high ? `must be ${range}` : "must be a whole number";
  return [String(fixed), `${boxName(box)} ${why}: ${typed} became ${fixed}.`];
}

function say(box, sentence) {
  const block = box.closest(".block") || box.parentElement;
  let note = block.querySelector(".cnnviz-corrected");
  if (!note) {
    note = document.createElement("p");
    note.className = "cnnviz-corrected";
    note.setAttribute("role", "status");
    block.append(note);
  }
  note.textContent = sentence;
  note.hidden = !sentence;
}

function commit(box) {
  const [value, sentence] = corrected(box);
  if (value === committed.get(box) && !sentence) return;
  box.value = value;
  committed.set(box, value);
  say(box, sentence);
  const event = new Event("input", { bubbles: true });
  event.cnnvizCommit = true;
  box.dispatchEvent(event);
}

document.addEventListener("focusin", (event) => {
  const box = numberBox(event.target);
  if (box && !committed.has(box)) committed.set(box, box.value);
});
document.addEventListener("input", (event) => {
  if (numberBox(event.target) && !event.cnnvizCommit) event.stopPropagation();
}, true);
document.addEventListener("change", (event) => {
  const box = numberBox(event.target);
  if (box) commit(box);
}, true);
document.addEventListener("keydown", (event) => {
  const box = numberBox(event.target);
  if (box && event.key === "Enter") commit(box);
}, true);

// The address: ?tab=inside&model=robust&digit=17 opens that state (the server reads it
// on load); once the student acts, it follows the tab, the model and the loaded digit.
function stateNow() {
  const params = new URLSearchParams(location.search);
  const tab = document.querySelector("#tabs [role=\"tab\"][aria-selected=\"true\"]");
  const tabId = tab ? settings.tabs[tab.textContent.trim()] : undefined;
  const model = document.querySelector("#model input[type=\"radio\"]:checked");
  const modelKey = model ? settings.models[model.value] : undefined;
  const truth = document.querySelector("#truth");
  const digit = truth ? /Loaded test digit #(\d+)/.exec(truth.textContent) : null;
  const wanted = { tab: tabId, model: modelKey, digit: digit ? digit[1] : undefined };
  for (const [key, value] of Object.entries(wanted)) {
    if (value === undefined) params.delete(key);
    else params.set(key, value);
  }
  return params.toString();
}

function followState() {
  const query = stateNow();
  if (query !== location.search.replace(/^\?/, "")) {
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }
}

function startFollowing() {
  document.removeEventListener("pointerdown", startFollowing, true);
  document.removeEventListener("keydown", startFollowing, true);
  setInterval(followState, 300);
}
document.addEventListener("pointerdown", startFollowing, true);
document.addEventListener("keydown", startFollowing, true);

// Accessibility of Gradio's own widgets, patched where the page can (each names the
// axe-core rule it answers; docs/app.rst lists them).
function patchAccessibility() {
  // aria-prohibited-attr: an empty image or gallery is a <div aria-label> with no role
  for (const empty of document.querySelectorAll("div.empty[aria-label]:not([role])")) {
    empty.setAttribute("role", "img");
  }
  // image-alt, button-name: pictures shown without alt text get their block's label
  for (const image of document.querySelectorAll("img:not([alt]), img[alt=\"\"]")) {
    const block = image.closest(".block");
    const label = block ? block.querySelector("[data-testid=\"block-label\"]") : null;
    const item = image.closest(".gallery-item");
    const parts = [label ? label.textContent.trim() : "", item ? item.textContent.trim() : ""];
    image.alt = parts.filter(Boolean).join(": ") || "picture";
  }
  // label-content-name-mismatch: a thumbnail showing "ch 2" is named "Thumbnail 3 of 32"
  for (const thumb of document.querySelectorAll(".thumbnail-item[aria-label^=\"Thumbnail\"]")) {
    const item = thumb.closest(".gallery-item");
    const caption = item ? item.textContent.trim() : "";
    const name = thumb.getAttribute("aria-label");
    if (caption) thumb.setAttribute("aria-label", `${caption}, ${name.toLowerCase()}`);
  }
}

let patchPending = false;
new MutationObserver(() => {
  if (patchPending) return;
  patchPending = true;
  requestAnimationFrame(() => {
    patchPending = false;
    patchAccessibility();
  });
}).observe(document.documentElement, { childList: true, subtree: true });

// Keyboard: on the Inside tab's unit map, the arrow keys move a marked unit (from the
// centre) and Enter or Space opens it, as a click on it would.
const unitAt = { row: -1, col: -1, grid: "" };

function unitGrid() {
  const note = document.querySelector("#unit-note");
  const size = note ? /(\d+)x(\d+) values/.exec(note.textContent) : null;
  return size ? [parseInt(size[1], 10), parseInt(size[2], 10)] : null;
}

function unitPoint(image, rows, cols) {
  const rect = image.getBoundingClientRect();
  const scale = Math.min(rect.width / image.naturalWidth, rect.height / image.naturalHeight, 1);
  const left = rect.left + (rect.width - image.naturalWidth * scale) / 2;
  const top = rect.top + (rect.height - image.naturalHeight * scale) / 2;
  const width = (image.naturalWidth * scale) / cols;
  const height = (image.naturalHeight * scale) / rows;
  return { left: left + unitAt.col * width, top: top + unitAt.row * height, width, height };
}

function markUnit(button, image, rows, cols) {
  let mark = button.querySelector(".cnnviz-unit-mark");
  if (!mark) {
    mark = document.createElement("div");
    mark.className = "cnnviz-unit-mark";
    button.style.position = "relative";
    button.append(mark);
  }
  const box = unitPoint(image, rows, cols);
  const frame = button.getBoundingClientRect();
  Object.assign(mark.style, {
    left: `${box.left - frame.left}px`,
    top: `${box.top - frame.top}px`,
    width: `${box.width}px`,
    height: `${box.height}px`,
  });
  button.setAttribute("aria-label", `Unit row ${unitAt.row}, column ${unitAt.col}: Enter opens it`);
}

const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

document.addEventListener("keydown", (event) => {
  const button = event.target instanceof Element ? event.target.closest("#unit-map button") : null;
  const image = button ? button.querySelector("img") : null;
  const grid = unitGrid();
  if (!image || !grid) return;
  const [rows, cols] = grid;
  if (unitAt.grid !== `${rows}x${cols}`) {
    Object.assign(unitAt, { row: Math.floor(rows / 2), col: Math.floor(cols / 2), grid: `${rows}x${cols}` });
  }
  if (event.key in MOVES) {
    const [down, right] = MOVES[event.key];
    unitAt.row = Math.min(Math.max(unitAt.row + down, 0), rows - 1);
    unitAt.col = Math.min(Math.max(unitAt.col + right, 0), cols - 1);
    markUnit(button, image, rows, cols);
    event.preventDefault();
  } else if (event.key === "Enter" || event.key === " ") {
    const box = unitPoint(image, rows, cols);
    const centre = { clientX: box.left + box.width / 2, clientY: box.top + box.height / 2 };
    button.dispatchEvent(new MouseEvent("click", { bubbles: true, ...centre }));
    markUnit(button, image, rows, cols);
    event.preventDefault();
  }
}, true);
