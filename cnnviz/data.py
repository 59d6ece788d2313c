"""MNIST (and any look-alike in IDX format): finding, downloading, verifying, splitting.

The data lives in memory as tensors and is batched by index, so a training step costs
one tensor gather instead of 64 Python transforms.

Where the files are looked for, in order:

1. the ``root`` argument (or ``--data-dir`` on the command line);
2. the ``CNNVIZ_DATA`` environment variable;
3. the per-user cache, ``$XDG_CACHE_HOME/cnnviz`` (default ``~/.cache/cnnviz``).

Inside a folder, both the flat layout (``ROOT/train-images-idx3-ubyte.gz``) and
torchvision's (``ROOT/MNIST/raw/train-images-idx3-ubyte[.gz]``) are accepted, so data
downloaded by torchvision is found.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnviz.download import DownloadError, fetch_from_mirrors, md5_checker
from cnnviz.idx import IMAGES_MAGIC, LABELS_MAGIC, IDXError, parse_idx, read_bytes

IMAGE_SIZE = 28
DATA_ENV_VAR = "CNNVIZ_DATA"

#: The four standard files: key -> (file name without ``.gz``, IDX magic, official MD5
#: of the decompressed file).
MNIST_FILES: dict[str, tuple[str, int, str]] = {
    "train_images": ("train-images-idx3-ubyte", IMAGES_MAGIC, "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", LABELS_MAGIC, "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", IMAGES_MAGIC, "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", LABELS_MAGIC, "27ae3e4e09519cfbb04c329615203637"),
}

#: Public MNIST mirrors, tried in turn (the original site often refuses robots).
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Pixel value 0.5 (mid-grey) in the model's input space.
GREY = 0.0


class DatasetNotFoundError(FileNotFoundError):
    """The four IDX files are not where they were looked for and could not be downloaded."""


def default_cache_dir() -> Path:
    """The per-user data folder, ``$XDG_CACHE_HOME/cnnviz`` or ``~/.cache/cnnviz``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnviz"


def search_roots(root: str | Path | None = None) -> list[Path]:
    """The folders searched for data, in order (see the module docstring)."""
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    if os.environ.get(DATA_ENV_VAR):
        roots.append(Path(os.environ[DATA_ENV_VAR]).expanduser())
    roots.append(default_cache_dir())
    return roots


def locate_files(folder: Path) -> dict[str, Path] | None:
    """The paths of the four standard files in ``folder`` (flat or torchvision layout).

    Returns ``None`` unless all four are present. A raw file is preferred to its ``.gz``.
    """
    for directory in (folder, folder / "MNIST" / "raw"):
        found = {}
        for key, (name, _, _) in MNIST_FILES.items():
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file():
                    found[key] = candidate
                    break
        if len(found) == len(MNIST_FILES):
            return found
    return None


@dataclass(frozen=True)
class RawDataset:
    """The four IDX arrays as stored: ``uint8`` images ``(N, 28, 28)``, labels ``(N,)``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path

    @property
    def num_classes(self) -> int:
        """Number of classes, ``max(label) + 1`` over both splits."""
        return int(max(self.train_labels.max(), self.test_labels.max())) + 1


def read_dataset(files: dict[str, Path], *, verify_mnist: bool) -> RawDataset:
    """Read and validate the four files found by :func:`locate_files`.

    Parameters
    ----------
    files
        Key -> path, keys as in :data:`MNIST_FILES`.
    verify_mnist
        Check each file against the official MNIST MD5; otherwise (Fashion-MNIST,
        KMNIST, ...) only the IDX headers and shapes are validated.

    Raises
    ------
    IDXError
        Naming the file and its problem: unreadable, corrupt gzip, wrong magic,
        truncated, checksum mismatch, wrong image size, or image/label count mismatch.
    """
    arrays = {}
    for key, (_, magic, md5) in MNIST_FILES.items():
        path = files[key]
        content = read_bytes(path)
        if verify_mnist and hashlib.md5(content).hexdigest() != md5:
            raise IDXError(
                f"{path}: checksum mismatch: this is not the official MNIST file (MD5 of the "
                f"decompressed content should be {md5}). Delete it to re-download, or load it "
                "as another IDX dataset (dataset='idx', --dataset idx)."
            )
        arrays[key] = parse_idx(content, expected_magic=magic, name=str(path))
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise IDXError(
                f"{files[f'{split}_images']}: images are {images.shape[1]}x{images.shape[2]}, "
                f"the model needs {IMAGE_SIZE}x{IMAGE_SIZE}"
            )
        if len(images) != len(labels):
            raise IDXError(
                f"{files[f'{split}_images']} has {len(images)} images but "
                f"{files[f'{split}_labels']} has {len(labels)} labels"
            )
    return RawDataset(**arrays, source=files["train_images"].parent)


def download_mnist(
    root: str | Path, *, mirrors: Sequence[str] = MNIST_MIRRORS, progress: bool = True
) -> dict[str, Path]:
    """Download the missing MNIST files into ``root/MNIST/raw`` (torchvision's layout).

    Every file is checked against its official MD5 before it is renamed into place, and
    mirrors are tried in turn; nothing partial or corrupt is left behind.

    Returns
    -------
    dict
        Key -> path of the four files.

    Raises
    ------
    DatasetNotFoundError
        If some file could not be had from any mirror (offline, say), with where to put
        the files by hand.
    """
    target = Path(root).expanduser() / "MNIST" / "raw"
    paths = {}
    for key, (name, _, md5) in MNIST_FILES.items():
        destination = target / f"{name}.gz"
        if not destination.is_file():
            try:
                fetch_from_mirrors(
                    f"{name}.gz",
                    destination,
                    mirrors,
                    verify=md5_checker(md5, content=read_bytes),
                    progress=progress,
                )
            except DownloadError as error:
                raise DatasetNotFoundError(
                    f"MNIST is not on this machine and downloading it failed ({error}).\n"
                    f"Put the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                    f"t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in {target} or in "
                    f"a folder named by ${DATA_ENV_VAR} (or pass --data-dir)."
                ) from None
        paths[key] = destination
    return paths


def load_raw(
    root: str | Path | None = None,
    *,
    dataset: str = "mnist",
    download: bool = True,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    progress: bool = True,
) -> RawDataset:
    """Find (or download) and read the four IDX files.

    Parameters
    ----------
    root
        Folder to use; ``None`` searches ``$CNNVIZ_DATA`` then the user cache.
    dataset
        ``"mnist"``: checked against the official MD5s, downloaded if missing.
        ``"idx"``: any four IDX files with MNIST's names and 28x28 images (Fashion-MNIST,
        KMNIST, ...), validated by their headers; never downloaded.
    download
        Download MNIST into the first search root if it is found nowhere.
    mirrors, progress
        Passed to :func:`download_mnist`.

    Raises
    ------
    DatasetNotFoundError, IDXError, ValueError
    """
    if dataset not in ("mnist", "idx"):
        raise ValueError(f"dataset must be 'mnist' or 'idx', not {dataset!r}")
    roots = search_roots(root)
    for folder in roots:
        files = locate_files(folder)
        if files is not None:
            return read_dataset(files, verify_mnist=dataset == "mnist")
    looked = ", ".join(str(folder) for folder in roots)
    if dataset != "mnist" or not download:
        raise DatasetNotFoundError(
            f"no train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
            f"t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] in {looked} "
            "(flat or MNIST/raw/ layout)"
        )
    files = download_mnist(roots[0], mirrors=mirrors, progress=progress)
    return read_dataset(files, verify_mnist=True)


def to_model_space(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``uint8`` pixels in 0..255 -> ``float32`` in [-1, 1], as the report's transforms.

    ``ToTensor`` (divide by 255) then ``Normalize(0.5, 0.5)``; a trailing channel axis is
    added: ``(N, 28, 28) -> (N, 1, 28, 28)``.
    """
    pixels = torch.as_tensor(np.array(images, dtype=np.uint8)).float().div(255.0)
    return pixels.sub(0.5).div(0.5).unsqueeze(-3)


def to_pixel_space(x: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] -> pixel intensities [0, 1] (for display)."""
    return x.add(1.0).div(2.0)


def split_indices(n: int, val_fraction: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A seeded random split of ``range(n)`` into training and validation indices.

    Returns
    -------
    train, val
        ``int64`` index tensors; ``len(val) == round(n * val_fraction)``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), not {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * val_fraction)
    return order[n_val:], order[:n_val]


@dataclass(frozen=True)
class Splits:
    """Train/validation/test tensors in the model's input space.

    ``*_x`` are ``float32 (N, 1, 28, 28)`` in [-1, 1]; ``*_y`` are ``int64 (N,)``.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int = 10


def make_splits(raw: RawDataset, *, val_fraction: float = 0.1, seed: int = 0) -> Splits:
    """The report's 90/10 split of the training set, normalised to [-1, 1] (R1)."""
    train_idx, val_idx = split_indices(len(raw.train_labels), val_fraction, seed)
    train_x = to_model_space(raw.train_images)
    train_y = torch.as_tensor(raw.train_labels.astype(np.int64))
    return Splits(
        train_x=train_x[train_idx],
        train_y=train_y[train_idx],
        val_x=train_x[val_idx],
        val_y=train_y[val_idx],
        test_x=to_model_space(raw.test_images),
        test_y=torch.as_tensor(raw.test_labels.astype(np.int64)),
        num_classes=raw.num_classes,
    )


def load_splits(
    root: str | Path | None = None,
    *,
    dataset: str = "mnist",
    val_fraction: float = 0.1,
    seed: int = 0,
    download: bool = True,
) -> Splits:
    """:func:`load_raw` then :func:`make_splits`: the one call most users need."""
    raw = load_raw(root, dataset=dataset, download=download)
    return make_splits(raw, val_fraction=val_fraction, seed=seed)


def first_per_class(labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Index of the first sample of each class ``0..num_classes-1`` in ``labels``.

    Raises ``ValueError`` if a class is absent.
    """
    indices = []
    for label in range(num_classes):
        found = (labels == label).nonzero()
        if len(found) == 0:
            raise ValueError(f"no sample of class {label}")
        indices.append(int(found[0, 0]))
    return torch.tensor(indices)


def batch_indices(
    n: int, batch_size: int, *, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Index batches over ``range(n)``; shuffled when a ``generator`` is given.

    The last batch may be smaller. Use as ``x[idx], y[idx]``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)
