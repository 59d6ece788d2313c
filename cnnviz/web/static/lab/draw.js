// The sketchpad: black strokes on an opaque white canvas, drawn with mouse, touch or pen
// (Pointer Events). onChange is called at most once per animation frame while drawing.

export const BRUSH = 26; // px on the 392 px canvas, as the Gradio app's brush

export class Sketchpad {
  constructor(canvas, { onChange, onStrokeStart }) {
    this.canvas = canvas;
    this.context = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange;
    this.onStrokeStart = onStrokeStart ?? (() => undefined);
    this.strokes = [];
    this.active = null;
    this.frame = 0;
    this.clear();
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (event) => this.down(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, (event) => this.up(event));
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [
      ((event.clientX - box.left) / box.width) * this.canvas.width,
      ((event.clientY - box.top) / box.height) * this.canvas.height,
    ];
  }

  down(event) {
    if (event.button !== undefined && event.button > 0) return;
    event.preventDefault();
    this.canvas.setPointerCapture?.(event.pointerId);
    this.active = { id: event.pointerId, points: [this.point(event)] };
    this.strokes.push(this.active.points);
    this.onStrokeStart();
    this.dot(this.active.points[0]);
    this.changed();
  }

  move(event) {
    if (!this.active || event.pointerId !== this.active.id) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const each of events.length ? events : [event]) {
      const next = this.point(each);
      const points = this.active.points;
      this.segment(points[points.length - 1], next);
      points.push(next);
    }
    this.changed();
  }

  up(event) {
    if (!this.active || event.pointerId !== this.active.id) return;
    this.active = null;
    this.changed();
  }

  dot([x, y]) {
    const c = this.context;
    c.fillStyle = "#000";
    c.beginPath();
    c.arc(x, y, BRUSH / 2, 0, 2 * Math.PI);
    c.fill();
  }

  segment(from, to) {
    const c = this.context;
    c.strokeStyle = "#000";
    c.lineWidth = BRUSH;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    c.moveTo(from[0], from[1]);
    c.lineTo(to[0], to[1]);
    c.stroke();
  }

  // One callback per animation frame, however many pointer events arrive.
  changed() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.onChange();
    });
  }

  clear() {
    const c = this.context;
    c.fillStyle = "#fff";
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = [];
    this.active = null;
  }

  // Replay recorded strokes ([[x, y], ...] in canvas pixels), as if drawn.
  replay(strokes) {
    for (const points of strokes) {
      this.strokes.push(points.map((p) => [p[0], p[1]]));
      this.dot(points[0]);
      for (let i = 1; i < points.length; i += 1) this.segment(points[i - 1], points[i]);
    }
  }

  // A 28 x 28 digit (white-on-black pixels in [0, 1]) as dark ink on the white canvas.
  showDigit(pixels, side) {
    const small = document.createElement("canvas");
    small.width = side;
    small.height = side;
    const image = small.getContext("2d").createImageData(side, side);
    for (let p = 0; p < side * side; p += 1) {
      const v = Math.round(255 * (1 - pixels[p]));
      image.data.set([v, v, v, 255], 4 * p);
    }
    small.getContext("2d").putImageData(image, 0, 0);
    this.clear();
    this.context.imageSmoothingEnabled = false;
    this.context.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
  }

  // A picture (pixels in [0, 1], h x w x c with c 1 or 3, as stored) filling the canvas.
  showPicture(pixels, h, w, c) {
    const small = document.createElement("canvas");
    small.width = w;
    small.height = h;
    const image = small.getContext("2d").createImageData(w, h);
    for (let p = 0; p < h * w; p += 1) {
      const rgb = c === 1 ? [pixels[p], pixels[p], pixels[p]] : [pixels[3 * p], pixels[3 * p + 1], pixels[3 * p + 2]];
      image.data.set([...rgb.map((v) => Math.round(255 * v)), 255], 4 * p);
    }
    small.getContext("2d").putImageData(image, 0, 0);
    this.clear();
    this.context.imageSmoothingEnabled = false;
    this.context.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
  }

  imageData() {
    return this.context.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }
}
