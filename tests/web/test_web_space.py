"""``make web``: the site, staged as a free static Space; packaging of the web extra."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import stage_web_space  # noqa: E402

from cnnviz.web.runtime import ORT_FILES  # noqa: E402


def front_matter(readme: str) -> dict[str, str]:
    block = re.match(r"---\n(.*?)\n---\n", readme, flags=re.S)
    assert block, "the Space's README starts with front matter"
    return dict(line.split(": ", 1) for line in block.group(1).splitlines())


def test_make_web_exports_the_site_then_stages_it():
    recipe = re.search(r"^web:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), flags=re.M)
    steps = [line.strip() for line in recipe.group(1).splitlines()]
    assert steps == [
        "rm -rf build/web build/web-space",
        "$(PYTHON) -m cnnviz.cli export-web build/web $(WEB_ARGS)",
        "$(PYTHON) scripts/stage_web_space.py build/web build/web-space",
    ]


def test_staging_writes_a_static_space_with_every_file_the_page_loads(web_site, tmp_path):
    staged = tmp_path / "web-space"
    assert stage_web_space.main([str(web_site), str(staged)]) == 0
    matter = front_matter((staged / "README.md").read_text())
    assert matter["sdk"] == "static" and matter["app_file"] == "index.html"
    loaded = stage_web_space.referenced_files(staged)
    links = re.findall(r'(?:src|href)="([^"#:]+)"', (staged / "index.html").read_text())
    assert links and set(links) <= loaded  # the page's own links
    assert {f"ort/{name}" for name in ORT_FILES} | {"manifest.json", "lab/main.js"} <= loaded
    assert all((staged / name).is_file() for name in loaded)
    site_files = {p.relative_to(web_site).as_posix() for p in web_site.rglob("*") if p.is_file()}
    assert site_files - {"index.html"} <= loaded  # nothing shipped that the page never loads
    assert stage_web_space.main([str(web_site), str(staged)]) == 1  # not into a full folder


def test_staging_refuses_a_site_whose_page_loads_a_missing_file(tmp_path):
    site = tmp_path / "site"
    (site / "lab").mkdir(parents=True)
    (site / "index.html").write_text('<script type="module" src="lab/main.js"></script>')
    (site / "lab" / "main.js").write_text('const PANELS = [["inside", "./inside.js"]];')
    (site / "manifest.json").write_text('{"models": [], "digits": {"images": "manifest.json"}}')
    with pytest.raises(FileNotFoundError, match=r"lab/inside\.js"):
        stage_web_space.stage(site, tmp_path / "space")


def test_deploy_page_sizes_are_the_sites(web_site):
    words = " ".join((ROOT / "docs" / "deploy.rst").read_text().split())
    wasm = (web_site / "ort" / "ort-wasm-simd-threaded.wasm").stat().st_size
    weights = [p.stat().st_size for p in web_site.glob("models/*/weights.bin")]
    assert f"the {wasm / 1e6:.0f} MB WebAssembly runtime" in words
    assert all(f"{size / 1e6:.1f} MB of weights per network" in words for size in weights)


def test_the_web_extra_is_pinned_in_all_and_the_front_end_is_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    web = re.search(r"^web = \[(.*)\]$", pyproject, flags=re.M).group(1)
    assert re.findall(r'"(\w+)==[\d.]+"', web) == ["onnx", "onnxscript", "onnxruntime"]
    assert "web" in re.search(r'^all = \["cnnviz\[(.*)\]"\]$', pyproject, flags=re.M).group(1)
    assert '"web/static/**/*"' in re.search(r"^cnnviz = \[.*\]$", pyproject, flags=re.M).group()


def test_import_cnnviz_and_cnnviz_web_import_no_onnx():
    code = (
        "import sys, cnnviz, cnnviz.web, cnnviz.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'onnx', 'onnxscript', "
        "'onnxruntime', 'gradio'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "[]"
