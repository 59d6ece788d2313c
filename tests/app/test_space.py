"""The Hugging Face Space and the built wheel, tried as far as this machine allows.

The Space receives the files ``scripts/stage_space.py`` stages, installs their
``requirements.txt`` with gradio at the README's ``sdk_version``, and runs
``python demo/app.py``. A user instead installs the wheel with the ``app`` extra and runs
the app from the package. The slow tests (marker ``space``, run by ``make test``) do both
here: each in a fresh virtual environment (no system site-packages), no MNIST, no home
cache, then a digit drawn through ``gradio_client``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from scripts.stage_space import stage
from tests.conftest import free_port

ROOT = Path(__file__).parents[2]

SERVE_TIMEOUT_S = 180
INSTALL_TIMEOUT_S = 900


def front_matter() -> dict[str, str]:
    """The README's YAML front matter as ``key: value`` strings (flat, as Spaces use it)."""
    block = re.match(r"---\n(.*?)\n---\n", (ROOT / "README.md").read_text(), flags=re.S)
    assert block, "README.md must start with the Space's front matter"
    pairs = (line.split(":", 1) for line in block.group(1).splitlines())
    return {key.strip(): value.strip().strip("\"'") for key, value in pairs}


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_front_matter_runs_the_app_with_gradio_6():
    meta = front_matter()
    assert meta["sdk"] == "gradio" and meta["app_file"] == "demo/app.py"
    assert meta["sdk_version"].startswith("6.")
    assert re.fullmatch(r"3\.\d+", meta["python_version"])
    deploy = " ".join((ROOT / "docs" / "deploy.rst").read_text().split())
    assert f"gradio=={meta['sdk_version']}" in deploy
    assert f"on Python {meta['python_version']}" in deploy


def test_sdk_version_is_on_pypi():
    versions = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "gradio"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    available = re.search(r"Available versions: (.*)", versions).group(1).split(", ")
    assert front_matter()["sdk_version"] in available


def test_space_requirements_get_cpu_torch_and_leave_gradio_to_the_sdk():
    lines = requirement_lines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "torch==2.13.0" in lines
    assert not any(line.startswith("gradio") for line in lines)  # sdk_version decides


def test_space_requirements_hold_every_dependency_of_the_library():
    """The Space imports cnnviz from beside the app, not as a package: pip never reads
    pyproject.toml there, so a dependency missing from requirements.txt breaks it."""
    listed = re.search(
        r"^dependencies = \[(.*?)\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S
    )
    dependencies = re.findall(r'"([^"]+)"', listed.group(1))
    assert "numba>=0.59" in dependencies
    names = {re.split(r"[<>=!~ ]", line, maxsplit=1)[0] for line in requirement_lines()}
    needed = {re.split(r"[<>=!~ ]", line, maxsplit=1)[0] for line in dependencies}
    assert needed <= names, needed - names


def test_no_file_is_marked_for_git_lfs():
    assert "filter=lfs" not in (ROOT / ".gitattributes").read_text()


def makefile_value(name: str) -> str:
    """The value the Makefile gives ``name`` (``NAME := value`` or ``NAME ?= value``)."""
    found = re.search(rf"^{name} [:?]= (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert found, f"the Makefile sets no {name}"
    return found.group(1)


def source_files(*paths: str) -> set[Path]:
    """The checkout's files under ``paths``: tracked or new, not ignored, not deleted."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {Path(line) for line in listed.splitlines() if (ROOT / line).is_file()}


def test_staging_copies_exactly_what_the_space_needs(tmp_path):
    staged = set(stage(tmp_path / "space"))
    assert {path.parts[0] for path in staged} == {"README.md", "requirements.txt", "demo", "cnnviz"}
    assert source_files("cnnviz", "demo") <= staged  # every shipped file, weights included
    for needed in ("demo/app.py", "cnnviz/app/__init__.py", "cnnviz/samples/mnist_test_sample.npz"):
        assert Path(needed) in staged
    weights = {path.name for path in staged if path.suffix == ".safetensors"}
    assert weights == {f"cnn_{variant}.safetensors" for variant in ("bn", "nobn", "bn_robust")}
    assert not any("__pycache__" in path.parts for path in staged)
    for path in staged:
        assert (tmp_path / "space" / path).read_bytes() == (ROOT / path).read_bytes()
    size = sum((tmp_path / "space" / path).stat().st_size for path in staged)
    assert size < 20e6


def test_staging_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "old.txt").write_text("left over")
    with pytest.raises(FileExistsError):
        stage(tmp_path)


def run(command: list[str], **kwargs) -> str:
    """Run ``command``; on failure, fail with its output."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points Python at this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("XDG_CACHE_HOME", None)
    return {**env, "PYTHONNOUSERSITE": "1", **extra}


def fresh_venv(folder: Path, *requirements: str) -> Path:
    """A new virtual environment in ``folder`` with ``requirements`` (pip arguments) installed.

    On the project's CI machine only PyPI is reachable: pip warns that the PyTorch CPU index
    is unreachable and takes torch 2.13.0+cpu from the machine's wheel folder
    (``--retries 1`` keeps those failed look-ups short); on a Space, or any machine online,
    the same arguments get it from that index. Returns the environment's ``python``.
    """
    run([sys.executable, "-m", "venv", str(folder)])
    python = folder / "bin" / "python"
    started = time.perf_counter()
    run(
        [str(python), "-m", "pip", "install", "--retries", "1", "-q", *requirements],
        env=clean_env(),
        timeout=INSTALL_TIMEOUT_S,
    )
    print(f"fresh venv installed in {time.perf_counter() - started:.0f} s")
    return python


@contextmanager
def serving(command: list[str], cwd: Path, port: int, home: Path, **extra: str) -> Iterator[str]:
    """``command`` run in ``cwd`` until it answers on ``port``; yields the URL, then stops it.

    The app runs with ``home`` (an empty folder) as its home and data folder: no MNIST, no
    cache; ``extra`` adds to its environment. Its output must hold no traceback.
    """
    log = home / "app.log"
    env = clean_env(
        HOME=str(home), CNNVIZ_DATA=str(home), GRADIO_ANALYTICS_ENABLED="False", **extra
    )
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the app exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"no answer on {url} in {SERVE_TIMEOUT_S} s:\n{log.read_text()}")
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def seven(path: Path) -> dict:
    """A drawn 7 as the sketchpad sends it (black strokes on white, 392x392)."""
    canvas = Image.new("RGB", (392, 392), "white")
    ImageDraw.Draw(canvas).line([(100, 90), (290, 90), (170, 320)], fill="black", width=26)
    canvas.save(path)
    return {"background": handle_file(str(path)), "layers": [], "composite": handle_file(str(path))}


def reads_a_drawn_seven(url: str, folder: Path) -> None:
    """A 7 drawn on the sketchpad, sent to ``/draw``, reads as 7."""
    client = Client(url, verbose=False)
    result = client.predict(sketch=seven(folder / "seven.png"), api_name="/draw")
    label = result[0]  # the Prediction box
    assert label["label"] == "7"
    assert max(c["confidence"] for c in label["confidences"]) > 0.5


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Iterator[tuple[Path, Path]]:
    """The staged Space and a fresh venv with its requirements and gradio==sdk_version."""
    base = tmp_path_factory.mktemp("space")
    stage(base / "app")
    requirements = str(base / "app" / "requirements.txt")
    gradio = f"gradio=={front_matter()['sdk_version']}"
    yield base / "app", fresh_venv(base / "venv", "-r", requirements, gradio)


@pytest.mark.space
def test_fresh_venv_has_cpu_torch_and_no_cnnviz_of_its_own(space, tmp_path):
    _, python = space
    probe = "import torch; print(torch.__version__, torch.version.cuda)"
    version, cuda = run([str(python), "-c", probe], cwd=tmp_path, env=clean_env()).split()
    assert version.split("+")[0] == "2.13.0" and cuda == "None"  # +cpu on Linux
    packages = run([str(python), "-m", "pip", "list", "--format=freeze"], env=clean_env())
    assert "nvidia" not in packages.lower()
    assert f"gradio=={front_matter()['sdk_version']}" in packages.splitlines()
    absent = subprocess.run([str(python), "-c", "import cnnviz"], cwd=tmp_path, env=clean_env())
    assert absent.returncode != 0  # the app can only use the staged copy


@pytest.fixture(scope="module")
def served(space, tmp_path_factory) -> Iterator[str]:
    """``python demo/app.py`` from the staged folder, with no MNIST and an empty home."""
    app, python = space
    home = tmp_path_factory.mktemp("no-data")
    port = free_port()
    command = [str(python), "demo/app.py"]  # where a Space tells it to listen:
    where = {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    with serving(command, app, port, home, **where) as url:
        yield url


@pytest.mark.space
def test_space_reads_a_drawn_seven_without_data(served, tmp_path):
    reads_a_drawn_seven(served, tmp_path)


# --- the wheel, as a user installs it: pip install "cnnviz[app]" ----------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel ``pip wheel`` builds from a clean copy of the checkout's package files.

    A copy, because setuptools builds in the source folder and would ship files left in
    ``build/lib`` by an earlier build.
    """
    base = tmp_path_factory.mktemp("wheel")
    for relative in source_files("pyproject.toml", "README.md", "cnnviz"):
        (base / "source" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, base / "source" / relative)
    dist = base / "dist"
    command = [sys.executable, "-m", "pip", "wheel", str(base / "source"), "--no-deps", "-q"]
    run([*command, "-w", str(dist)], env=clean_env(), timeout=INSTALL_TIMEOUT_S)
    (built,) = dist.glob("cnnviz-*.whl")
    return built


@pytest.mark.space
def test_wheel_ships_the_package_the_app_its_weights_and_sample(wheel):
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package = {path.as_posix() for path in source_files("cnnviz") if path.suffix != ".pyc"}
    assert package <= shipped and "cnnviz/app/__init__.py" in shipped
    assert not [name for name in shipped if name.startswith("demo/") or "__pycache__" in name]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv with ``<wheel>[app]``, torch pinned and from the CPU index as ``make``."""
    torch = f"torch=={makefile_value('TORCH_VERSION')}"
    index = ["--extra-index-url", makefile_value("TORCH_INDEX")]
    return fresh_venv(tmp_path_factory.mktemp("installed") / "venv", *index, f"{wheel}[app]", torch)


@pytest.mark.space
def test_installed_wheel_has_the_app_and_cpu_torch(installed, tmp_path):
    probe = "import cnnviz.app, torch; print(cnnviz.app.__file__, torch.version.cuda)"
    where, cuda = run([str(installed), "-c", probe], cwd=tmp_path, env=clean_env()).split()
    assert Path(where).is_relative_to(installed.parents[1]) and cuda == "None"


@pytest.mark.space
def test_installed_app_reads_a_drawn_seven_outside_the_checkout(installed, tmp_path_factory):
    """``cnnviz demo`` of the installed package serves the app from a folder of the user's."""
    home = tmp_path_factory.mktemp("user")
    port = free_port()
    command = [str(installed.parent / "cnnviz"), "demo", "--port", str(port)]
    with serving(command, home, port, home) as url:
        reads_a_drawn_seven(url, home)
