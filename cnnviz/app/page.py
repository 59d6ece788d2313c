"""The page around the tabs: title, introduction, style and its script (``page.js``)."""

import json
from pathlib import Path

TITLE = "cnnviz: see what a CNN sees"
INTRO = """# cnnviz: see what a convolutional network sees
Draw a digit. The network of the classic MNIST assignment (two convolutions, two fully
connected layers, 99.4 % test accuracy) reads it, shows which strokes matter and what its
filters fire on, and how a small, targeted change of the pixels makes it read another digit."""


def head(tabs: dict[str, str], models: dict[str, str], lab_models: dict[str, str]) -> str:
    """The page's script (``page.js``) with the tab labels -> ids and model names -> keys
    it writes into the address, and model names -> the in-browser lab's network ids."""
    script = (Path(__file__).parent / "page.js").read_text()
    config = json.dumps({"tabs": tabs, "models": models, "labModels": lab_models})
    return f"<script>window.cnnviz = {config};</script>\n<script>\n{script}</script>\n"


CSS = """
#verdict { height: 2.2rem; }  /* one line, empty or not: no jump when the prediction appears */
.cnnviz-corrected { color: #7a4100; font-size: 14px; margin: 4px 0 0; }
.explained p { font-size: 14px; margin: 2px 0; }
#message p, #truth p { font-size: 14px; line-height: 1.4; }
/* colour contrast (axe-core "color-contrast", 4.5:1): slider ends, the footer, buttons */
.min_value, .max_value, .show-api { color: #4b5563 !important; }
button.primary { background: #b45309 !important; color: #fff !important; }
button.primary:hover { background: #92400e !important; }
button.stop { background: #b91c1c !important; color: #fff !important; }
.cnnviz-unit-mark { position: absolute; outline: 3px solid #0072b2; pointer-events: none; }
.grid-wrap.fixed-height { max-height: none !important; height: auto !important; }
.class-images .grid-container { --grid-cols: 5 !important; }  /* one image: not full width */
.inline-picture img { display: block; margin: 0 auto; max-width: 100%; }
.inline-picture img.pixels { width: 224px; margin: 8px auto; image-rendering: pixelated; }
#verdict p { font-size: 1.25rem; line-height: 2.2rem; margin: 0; }
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
@media (max-height: 820px) { #intro p { display: none; } }  /* laptops: the pictures in view */
@media (max-width: 640px) {
  #intro p { display: none; }
  #intro h1 { font-size: 1.3rem; }
  #draw-pictures { flex-direction: column; }
  #draw-pictures > * { width: 100%; }
  #tabs .tab-container button { padding: 4px 5px; font-size: 13px; }
  .class-images .grid-container { --grid-cols: 2 !important; }
  #feature-maps .grid-container, #channel-examples .grid-container,
  #conv1-filters .grid-container {  /* 4 columns in the box, none hidden off its edge */
    grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
  #conv2-filters .grid-container { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }
}
"""
