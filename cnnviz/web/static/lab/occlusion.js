// Occlusion as cnnviz.inspect.occlusion.occlusion defines it: a patch filled with mid-grey (the
// middle of the input bounds) slid with Captum's window placement (corners 0, s, 2s, ...,
// ceil((size - patch) / s) + 1 per axis, the last one may hang over the edge); the map is the
// probability of the target class with the patch at each window; all windows in ONE batched run.

export function windowStarts(size, patch, stride) {
  if (!(patch >= 1 && patch <= size)) throw new RangeError(`patch must be between 1 and ${size}, not ${patch}`);
  if (stride < 1 || (stride > patch && patch < size)) {
    throw new RangeError(`stride must be between 1 and the patch size ${patch}, not ${stride}`);
  }
  const count = Math.ceil((size - patch) / stride) + 1;
  return Array.from({ length: count }, (_, i) => i * stride);
}

// {probability: Float32Array(ny * nx), ny, nx, rows, cols, base, attribution: Float32Array(H * W)}
export async function occlusionMap(lab, x, target, { patch, stride }) {
  const [channels, height, width] = lab.model.input.shape;
  const [low, high] = lab.model.input.bounds;
  const fill = (low + high) / 2;
  const rows = windowStarts(height, patch, stride);
  const cols = windowStarts(width, patch, stride);
  const size = channels * height * width;
  const n = rows.length * cols.length + 1; // the last copy is the unoccluded image
  const batch = new Float32Array(n * size);
  for (let i = 0; i < rows.length; i += 1) {
    for (let j = 0; j < cols.length; j += 1) {
      const copy = batch.subarray((i * cols.length + j) * size, (i * cols.length + j + 1) * size);
      copy.set(x);
      const r1 = Math.min(rows[i] + patch, height);
      const c1 = Math.min(cols[j] + patch, width);
      for (let c = 0; c < channels; c += 1) {
        for (let r = rows[i]; r < r1; r += 1) copy.fill(fill, c * height * width + r * width + cols[j], c * height * width + r * width + c1);
      }
    }
  }
  batch.set(x, (n - 1) * size);
  const { probs } = await lab.logits(batch, n);
  const k = lab.model.classes.length;
  const count = n - 1;
  const probability = new Float32Array(count);
  for (let w = 0; w < count; w += 1) probability[w] = probs[w * k + target];
  const base = probs[count * k + target];
  // Captum's attribution: probability drop averaged over the windows covering each pixel.
  const sum = new Float64Array(height * width);
  const cover = new Float64Array(height * width);
  for (let i = 0; i < rows.length; i += 1) {
    for (let j = 0; j < cols.length; j += 1) {
      const drop = base - probability[i * cols.length + j];
      for (let r = rows[i]; r < Math.min(rows[i] + patch, height); r += 1) {
        for (let c = cols[j]; c < Math.min(cols[j] + patch, width); c += 1) {
          sum[r * width + c] += drop;
          cover[r * width + c] += 1;
        }
      }
    }
  }
  const attribution = new Float32Array(height * width);
  for (let p = 0; p < attribution.length; p += 1) attribution[p] = sum[p] / cover[p];
  return { probability, ny: rows.length, nx: cols.length, rows, cols, base, attribution };
}
