// Saliency as cnnviz.inspect.saliency.saliency defines it: |d logit[target] / d x| (pre-softmax
// score, eval mode), through the exported gradient graph (logit_weights = onehot, lse = 0).

export async function saliencyMap(lab, x, target) {
  const k = lab.model.classes.length;
  const weights = new Float32Array(k);
  weights[target] = 1;
  const { grad } = await lab.gradient(x, 1, weights, [0]);
  const map = new Float32Array(grad.length);
  for (let p = 0; p < grad.length; p += 1) map[p] = Math.abs(grad[p]);
  return map;
}

// One H x W map to show: the largest |gradient| over channels at each pixel.
export function perPixel(map, [channels, height, width]) {
  const out = new Float32Array(height * width);
  for (let c = 0; c < channels; c += 1) {
    for (let p = 0; p < height * width; p += 1) out[p] = Math.max(out[p], map[c * height * width + p]);
  }
  return out;
}
