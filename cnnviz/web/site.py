"""The browser edition's static site: ``export_site(OUT)`` writes everything it needs.

Layout (see ``notes/web-contract.md``)::

    OUT/index.html, OUT/lab/...      the front end (copied from cnnviz/web/static)
    OUT/ort/                         ONNX Runtime Web, vendored (cnnviz.web.runtime)
    OUT/manifest.json                what the site holds
    OUT/models/<id>/                 forward.onnx, logits.onnx, gradient.onnx, weights.bin,
                                     history.json
    OUT/data/digits.bin              the bundled MNIST test digits, N x 28 x 28 x 1 uint8
    OUT/data/pictures.bin            or a teacher's pictures, N x H x W x C uint8

Every URL in the manifest is relative, so the site works under any sub-path and from
any static file host.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnviz import __version__
from cnnviz.data.image_folder import ImageSet
from cnnviz.data.sample_digits import SAMPLE_PATH
from cnnviz.models.checkpoint import history_path, pretrained, pretrained_metadata, pretrained_path
from cnnviz.web.export import ExportedModel, WebModel, export_model, report_cnn_model
from cnnviz.web.runtime import ORT_VERSION, VendoredRuntime, vendor_runtime

STATIC_DIR = Path(__file__).parent / "static"
MANIFEST_FILE = "manifest.json"
DIGITS_FILE = "data/digits.bin"
PICTURES_FILE = "data/pictures.bin"
MANIFEST_FORMAT = 1

#: The shipped networks, by site id, as (variant of cnnviz.pretrained, label, what it is).
SHIPPED = {
    "standard": ("nobn", "standard", "the report's CNN without batch norm"),
    "batchnorm": ("bn", "batch norm", "the report's CNN with batch norm"),
    "robust": ("robust", "robust", "the batch-norm CNN trained against PGD attacks"),
}
DEFAULT_MODEL = "batchnorm"


def shipped_models() -> list[WebModel]:
    """The three pretrained networks as :class:`~cnnviz.web.export.WebModel` s.

    Examples
    --------
    >>> [(spec.id, spec.label) for spec in shipped_models()]
    [('standard', 'standard'), ('batchnorm', 'batch norm'), ('robust', 'robust')]
    >>> shipped_models()[1].description
    "the report's CNN with batch norm, 99.51 % on MNIST's test set"
    """
    specs = []
    for site_id, (variant, label, what) in SHIPPED.items():
        accuracy = float(pretrained_metadata(variant=variant)["test_accuracy"])
        specs.append(
            report_cnn_model(
                site_id,
                pretrained(variant=variant),
                label=label,
                description=f"{what}, {accuracy:.2f} % on MNIST's test set",
                history=history_path(pretrained_path(variant=variant)),
            )
        )
    return specs


def write_digits(site: Path, sample: Path = SAMPLE_PATH) -> dict:
    """Write the bundled test digits as ``N x 28 x 28 x 1`` uint8; return the manifest's ``digits``.

    Examples
    --------
    >>> import tempfile
    >>> site = Path(tempfile.mkdtemp())
    >>> digits = write_digits(site)
    >>> digits["count"], digits["shape"], (site / digits["images"]).stat().st_size
    (1000, [28, 28, 1], 784000)
    """
    with np.load(sample, allow_pickle=False) as arrays:
        images, labels, indices = arrays["images"], arrays["labels"], arrays["indices"]
    path = site / DIGITS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.ascontiguousarray(images[..., None], dtype=np.uint8).tobytes())
    return {
        "images": DIGITS_FILE,
        "count": len(images),
        "shape": [*images.shape[1:], 1],
        "labels": labels.astype(int).tolist(),
        "indices": indices.astype(int).tolist(),
        "source": "MNIST test set (bundled sample)",
    }


def write_pictures(site: Path, pictures: ImageSet) -> dict:
    """Write a teacher's pictures as ``N x H x W x C`` uint8; return the manifest's ``digits``.

    The lab's sample is then these pictures: ``kind`` is ``"pictures"``, ``names`` their
    paths in the folder, ``labels`` their class indices (``None`` when unknown).

    Parameters
    ----------
    site
        The site's root folder.
    pictures
        Loaded with pixel bounds: ``load_image_folder(folder, shape=..., bounds=(0, 1))``
        (``images`` ``(N, C, H, W)`` in ``[0, 1]``, stored exactly as their 8-bit pixels).

    Examples
    --------
    >>> import tempfile
    >>> pictures = ImageSet(torch.ones(2, 3, 4, 5), ("cat/a.png", "b.png"), (0, None))
    >>> site = Path(tempfile.mkdtemp())
    >>> sample = write_pictures(site, pictures)
    >>> sample["kind"], sample["shape"], sample["names"], sample["labels"]
    ('pictures', [4, 5, 3], ['cat/a.png', 'b.png'], [0, None])
    >>> (site / sample["images"]).read_bytes()[:3]
    b'\\xff\\xff\\xff'
    """
    images = pictures.images
    if images.ndim != 4 or images.numel() == 0 or images.min() < 0 or images.max() > 1:
        raise ValueError("pictures must be (N, C, H, W) in [0, 1]: load them with bounds=(0, 1)")
    pixels = (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).contiguous().numpy()
    path = site / PICTURES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pixels.tobytes())
    return {
        "images": PICTURES_FILE,
        "count": len(pixels),
        "shape": list(pixels.shape[1:]),
        "labels": list(pictures.labels),
        "indices": list(range(len(pixels))),
        "names": list(pictures.names),
        "kind": "pictures",
        "source": "your pictures",
    }


def gzip_size(path: Path) -> int:
    """Bytes of ``path`` gzip-compressed (level 9), as a web server may send it.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "zeros"
    >>> _ = path.write_bytes(bytes(10000))
    >>> gzip_size(path) < 100
    True
    """
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


@dataclass(frozen=True)
class SiteResult:
    """What :func:`export_site` wrote.

    Attributes
    ----------
    out
        The site's root folder.
    manifest
        The manifest, as written to ``manifest.json``.
    models
        One :class:`~cnnviz.web.export.ExportedModel` per model, in manifest order.
    runtime
        The vendored ONNX Runtime Web files.

    Examples
    --------
    >>> result = SiteResult(Path("site"), {"default_model": "a"}, (), None)
    >>> result.index.as_posix()
    'site/index.html'
    """

    out: Path
    manifest: dict
    models: tuple[ExportedModel, ...]
    runtime: VendoredRuntime | None

    @property
    def index(self) -> Path:
        """``OUT/index.html``, the page to open."""
        return self.out / "index.html"

    def sizes(self) -> dict[str, tuple[int, int]]:
        """Raw and gzip bytes of each model's graphs + weights and of the runtime.

        Keys: the model ids and ``"runtime"``.
        """
        groups = {
            model.entry["id"]: [name for name in model.files if not name.endswith(".json")]
            for model in self.models
        }
        if self.runtime is not None:
            groups["runtime"] = [
                (self.runtime.folder / name).relative_to(self.out).as_posix()
                for name in self.runtime.files
            ]
        return {
            key: (
                sum((self.out / name).stat().st_size for name in names),
                sum(gzip_size(self.out / name) for name in names),
            )
            for key, names in groups.items()
        }


def export_site(
    out: str | Path,
    *,
    models: Sequence[WebModel] | None = None,
    default_model: str | None = None,
    app_url: str | None = None,
    pictures: ImageSet | None = None,
    runtime: bool = True,
    cache: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
    registry: str | None = None,
    runtime_cache: Path | None = None,
    progress_bar: bool = True,
) -> SiteResult:
    """Write the browser edition's static site into ``out``.

    Parameters
    ----------
    out
        Folder to write (created; files already there are overwritten, others kept).
    models
        What to export (default :func:`shipped_models`: standard, batch norm, robust).
    default_model
        Id of the model the page opens with (default ``"batchnorm"`` if exported, else
        the first).
    app_url
        Link to the full Gradio app, or ``None``.
    pictures
        A teacher's pictures (:func:`write_pictures`), shown instead of the bundled MNIST
        digits; every model must take their shape. ``None``: the digits.
    runtime
        Vendor ONNX Runtime Web into ``out/ort`` (needs the cached tarball or the npm
        registry; see :func:`cnnviz.web.runtime.runtime_tarball`).
    cache
        Graph cache folder (see :func:`cnnviz.web.export.default_graph_cache`), or
        ``None`` to export every graph afresh.
    progress
        Called with a short message before each long step.
    registry, runtime_cache, progress_bar
        Where the runtime's tarball is downloaded from and cached, and whether the
        download shows a progress bar (:func:`cnnviz.web.runtime.runtime_tarball`).

    Returns
    -------
    SiteResult

    Examples
    --------
    The shipped networks: ``export_site("site")``. Any classifier:

    >>> import tempfile
    >>> from torch import nn
    >>> from cnnviz.web import classifier_model
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()
    >>> spec = classifier_model("mine", net, input_shape=(1, 28, 28), bounds=(0, 1),
    ...                         classes="0123456789", label="mine", description="linear")
    >>> result = export_site(tempfile.mkdtemp(), models=[spec], runtime=False)
    >>> result.manifest["default_model"], result.manifest["digits"]["count"]
    ('mine', 1000)
    >>> json.loads((result.out / "manifest.json").read_text())["models"][0]["gradient"]
    'models/mine/gradient.onnx'
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = shipped_models() if models is None else list(models)
    ids = [spec.id for spec in specs]
    if not specs or len(set(ids)) != len(ids):
        raise ValueError(f"export_site needs models with distinct ids, not {ids}")
    if default_model is None:
        default_model = DEFAULT_MODEL if DEFAULT_MODEL in ids else ids[0]
    if default_model not in ids:
        raise ValueError(f"default_model {default_model!r} is not one of {ids}")
    if pictures is not None:
        shape = tuple(pictures.images.shape[1:])
        for spec in specs:
            if spec.input_shape != shape:
                raise ValueError(
                    f"the pictures are {list(shape)}, but {spec.label} takes "
                    f"{list(spec.input_shape)} images"
                )
    if STATIC_DIR.is_dir():
        shutil.copytree(
            STATIC_DIR, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    vendored = None
    if runtime:
        progress(f"ONNX Runtime Web {ORT_VERSION}")
        vendored = vendor_runtime(
            out / "ort", registry=registry, cache_dir=runtime_cache, progress=progress_bar
        )
    exported = tuple(export_model(spec, out, cache=cache, progress=progress) for spec in specs)
    manifest = {
        "format": MANIFEST_FORMAT,
        "cnnviz_version": __version__,
        "ort_version": ORT_VERSION,
        "app_url": app_url,
        "default_model": default_model,
        "models": [model.entry for model in exported],
        "digits": write_digits(out) if pictures is None else write_pictures(out, pictures),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n")
    return SiteResult(out, manifest, exported, vendored)
