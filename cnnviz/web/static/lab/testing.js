// window.cnnvizLab: hooks for the browser tests and benchmarks, plain arrays in and out.
// Panels add theirs with addHooks({...}).

let resolveReady;
let rejectReady;
const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});
ready.catch(() => undefined); // a failed start is shown on the page; tests await it themselves

const hooks = { ready };
window.cnnvizLab = hooks;

export function addHooks(more) {
  Object.assign(hooks, more);
  return hooks;
}

// The Draw view answers from now on (ms since the page's navigation started).
export function markInteractive() {
  hooks.interactiveAt = performance.now();
}

export function markReady(lab) {
  hooks.lab = lab;
  hooks.readyAt = performance.now(); // and every panel is mounted
  resolveReady(lab);
}

export function markFailed(error) {
  rejectReady(error);
}

// Run `task` with model `modelId` selected, then select the previous model again.
export async function withModel(lab, modelId, task) {
  const previous = lab.model ? lab.model.id : null;
  await lab.use(modelId);
  try {
    return await task();
  } finally {
    if (previous && previous !== modelId) await lab.use(previous);
  }
}

export function plain(array) {
  return Array.from(array);
}
