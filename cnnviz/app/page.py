"""The page around the tabs: title, introduction, style and the brush-picking script."""

TITLE = "cnnviz: see what a CNN sees"
INTRO = """# cnnviz: see what a convolutional network sees
Draw a digit. The network of the classic MNIST assignment (two convolutions, two fully
connected layers, 99.4 % test accuracy) reads it, shows which strokes matter and what its
filters fire on, and how a small, targeted change of the pixels makes it read another digit."""

# Gradio 6 opens the sketchpad with no tool and resets it on "Clear": pick the brush
# on load and after every clear, so the first stroke draws.
PICK_BRUSH = """
<script>
function cnnvizPickBrush(tries) {
  const brush = document.querySelector('#sketchpad button[aria-label="Brush"]');
  if (brush && brush.classList.contains('highlight')) return;
  if (brush) brush.click();
  if (tries > 0) setTimeout(() => cnnvizPickBrush(tries - 1), 150);
}
document.addEventListener('click', (event) => {
  if (event.target.closest('#sketchpad button[aria-label="Clear canvas"]')) {
    setTimeout(() => cnnvizPickBrush(20), 150);
  }
}, true);
cnnvizPickBrush(200);
</script>
"""
CSS = """
#verdict { min-height: 1.6em; }
.grid-wrap.fixed-height { max-height: none !important; height: auto !important; }
.class-images .grid-container { --grid-cols: 5 !important; }  /* one image: not full width */
.inline-picture img { display: block; margin: 0 auto; max-width: 100%; }
.inline-picture img.pixels { width: 224px; margin: 8px auto; image-rendering: pixelated; }
#verdict p { font-size: 1.25rem; margin: 0; }
svg.curves { display: block; width: 100%; max-width: 900px; height: auto; margin: 0 auto; }
.unit { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-start; padding: 6px; }
.unit figure { margin: 0; }
.unit figcaption { font-size: 13px; text-align: center; margin: 2px 0; }
.unit .field { position: relative; width: 168px; height: 168px; }
.unit .field img { width: 168px; height: 168px; image-rendering: pixelated; display: block; }
.unit .field div { position: absolute; border: 2px solid #ffb000; box-sizing: border-box; }
.unit table { border-collapse: collapse; margin: 0 auto; }
.unit td { width: 48px; height: 44px; padding: 0; text-align: center; font-size: 13px;
  border: 1px solid #fff; font-variant-numeric: tabular-nums; }
.unit td.kept { outline: 3px solid #000; outline-offset: -3px; }
.unit td.here::after { content: " \\25B2"; color: #ffb000; }
.unit .pushes div { display: grid; grid-template-columns: 8.5em 90px 90px 4.5em; font-size: 12px;
  align-items: center; line-height: 17px; }
.unit .pushes .down { display: flex; justify-content: flex-end;
  border-right: 1px solid currentColor; }
.unit .pushes span span { display: block; height: 11px; }
.unit .pushes div > span:last-child { text-align: right; font-variant-numeric: tabular-nums; }
.unit pre { margin: 0; font-size: 12px; line-height: 1.45; align-self: center; }
@media (max-width: 640px) {
  #intro p { display: none; }
  #tabs .tab-container button { padding: 4px 5px; font-size: 13px; }
  .class-images .grid-container { --grid-cols: 2 !important; }
}
"""
