"""MNIST (and any look-alike in IDX format): finding, downloading, verifying, splitting.

The data lives in memory as tensors and is batched by index, so a training step costs
one tensor gather instead of 64 Python transforms.

Where the files are looked for, in order:

1. the ``root`` argument (or ``--data-dir`` on the command line);
2. the ``CNNVIZ_DATA`` environment variable;
3. the per-user cache, ``$XDG_CACHE_HOME/cnnviz`` (default ``~/.cache/cnnviz``).

Inside a folder, both the flat layout (``ROOT/train-images-idx3-ubyte.gz``) and
torchvision's (``ROOT/MNIST/raw/train-images-idx3-ubyte[.gz]``, also ``FashionMNIST/raw``
and ``KMNIST/raw``) are accepted, so data downloaded by torchvision is found. Any IDX data
set works: Fashion-MNIST and KMNIST use MNIST's file names; other names are given with
``files=``. Images may have any size; only MNIST is checked against its official MD5s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnviz.data.download import DownloadError, fetch_from_mirrors, md5_checker
from cnnviz.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    ChecksumError,
    IDXError,
    read_bytes,
    read_idx,
)

DATA_ENV_VAR = "CNNVIZ_DATA"


#: The four standard files, by key, as (file name without ``.gz``, IDX magic, official MD5
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


#: Sub-folders where torchvision keeps the raw files of MNIST and its look-alikes.
TORCHVISION_FOLDERS = ("MNIST/raw", "FashionMNIST/raw", "KMNIST/raw")


class DatasetNotFoundError(FileNotFoundError):
    """The four IDX files are not where they were looked for and could not be downloaded.

    A ``FileNotFoundError``; :func:`load_raw` raises it without trying to download when
    asked not to.

    Examples
    --------
    >>> import tempfile
    >>> load_raw(tempfile.mkdtemp(), download=False)
    Traceback (most recent call last):
    ...
    cnnviz.data.mnist.DatasetNotFoundError: no train-images-idx3-ubyte[.gz], ... (flat or ... ...
    """


def default_cache_dir() -> Path:
    """The per-user data folder, ``$XDG_CACHE_HOME/cnnviz`` or ``~/.cache/cnnviz``.

    Examples
    --------
    >>> default_cache_dir().name
    'cnnviz'
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnviz"


def search_roots(root: str | Path | None = None) -> list[Path]:
    """The folders searched for data, in order (see the module docstring).

    Examples
    --------
    >>> search_roots("/data/fashion")
    [PosixPath('/data/fashion')]
    """
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    if os.environ.get(DATA_ENV_VAR):
        roots.append(Path(os.environ[DATA_ENV_VAR]).expanduser())
    roots.append(default_cache_dir())
    return roots


def _file_names(files: Mapping[str, str] | None) -> dict[str, str]:
    """Key -> file name of the four files: ``files``, else MNIST's names."""
    if files is None:
        return {key: name for key, (name, _, _) in MNIST_FILES.items()}
    if set(files) != set(MNIST_FILES):
        raise ValueError(
            f"files= needs exactly the keys {sorted(MNIST_FILES)}, not {sorted(files)}"
        )
    return {key: str(files[key]) for key in MNIST_FILES}


def locate_files(folder: Path, files: Mapping[str, str] | None = None) -> dict[str, Path] | None:
    """The paths of the four files in ``folder`` (flat or torchvision layout).

    Parameters
    ----------
    folder
        Searched itself, then its :data:`TORCHVISION_FOLDERS`.
    files
        Key (as in :data:`MNIST_FILES`) -> file name; ``None`` for MNIST's names. Each
        name is also looked for with ``.gz`` appended; a raw file is preferred.

    Returns
    -------
    dict or None
        Key -> path, or ``None`` unless all four are present in one folder.

    Examples
    --------
    >>> import tempfile
    >>> locate_files(Path(tempfile.mkdtemp())) is None
    True
    """
    names = _file_names(files)
    for directory in (folder, *(folder / sub for sub in TORCHVISION_FOLDERS)):
        found = {}
        for key, name in names.items():
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file():
                    found[key] = candidate
                    break
        if len(found) == len(names):
            return found
    return None


@dataclass(frozen=True)
class RawDataset:
    """The four IDX arrays as stored: ``uint8`` images ``(N, H, W)``, labels ``(N,)``.

    ``source`` is the folder the files were read from.

    Examples
    --------
    >>> images = np.zeros((6, 28, 28), dtype=np.uint8)
    >>> raw = RawDataset(images, np.arange(6) % 3, images[:2], np.array([0, 4]), Path("."))
    >>> raw.num_classes
    5
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: Path

    @property
    def num_classes(self) -> int:
        """Number of classes, ``max(label) + 1`` over both splits."""
        return int(max(self.train_labels.max(), self.test_labels.max())) + 1


def read_dataset(files: Mapping[str, Path], *, verify_mnist: bool) -> RawDataset:
    """Read and validate the four files found by :func:`locate_files`.

    Parameters
    ----------
    files
        Key -> path, keys as in :data:`MNIST_FILES`.
    verify_mnist
        Check each file against the official MNIST MD5; otherwise (Fashion-MNIST,
        KMNIST, your own) only the IDX headers and shapes are validated.

    Raises
    ------
    IDXError
        Naming the file and its problem: unreadable, corrupt gzip, wrong magic,
        truncated, checksum mismatch, training and test images of different sizes, or
        image/label count mismatch.

    Examples
    --------
    >>> import tempfile
    >>> from cnnviz.data.idx import write_idx
    >>> folder = Path(tempfile.mkdtemp())
    >>> for key, (name, _, _) in MNIST_FILES.items():
    ...     shape = (4, 32, 32) if key.endswith("images") else (4,)
    ...     _ = write_idx(folder / name, np.zeros(shape, dtype=np.uint8))
    >>> read_dataset(locate_files(folder), verify_mnist=False).train_images.shape
    (4, 32, 32)
    """
    arrays = {}
    for key, (_, magic, md5) in MNIST_FILES.items():
        try:
            arrays[key] = read_idx(
                files[key], expected_magic=magic, md5=md5 if verify_mnist else None
            )
        except ChecksumError as error:
            raise ChecksumError(
                f"{error}: this is not the official MNIST file. Delete it to re-download, or "
                "load it as another IDX dataset (dataset='idx', --dataset idx)."
            ) from None
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        train_size, test_size = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
        raise IDXError(
            f"{files['train_images']} has {'x'.join(map(str, train_size))} images but "
            f"{files['test_images']} has {'x'.join(map(str, test_size))} images"
        )
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise IDXError(
                f"{files[f'{split}_images']} has {len(images)} images but "
                f"{files[f'{split}_labels']} has {len(labels)} labels"
            )
    return RawDataset(**arrays, source=Path(files["train_images"]).parent)


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

    Examples
    --------
    Without any mirror (offline), it says where to put the files:

    >>> import tempfile
    >>> download_mnist(tempfile.mkdtemp(), mirrors=(), progress=False)
    Traceback (most recent call last):
    ...
    cnnviz.data.mnist.DatasetNotFoundError: MNIST is not on this machine and downloading it ...
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
    files: Mapping[str, str] | None = None,
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
        ``"idx"``: any four IDX image/label files (Fashion-MNIST, KMNIST, your own
        made with :func:`cnnviz.data.idx.write_idx`), images of any size, validated by their
        headers; never downloaded.
    files
        Key (``train_images``, ``train_labels``, ``test_images``, ``test_labels``) ->
        file name in the folder, for data sets not named as MNIST's files.
    download
        Download MNIST into the first search root if it is found nowhere.
    mirrors, progress
        Passed to :func:`download_mnist`.

    Raises
    ------
    DatasetNotFoundError, IDXError, ValueError

    Examples
    --------
    >>> import tempfile
    >>> from cnnviz.data.idx import write_idx
    >>> folder = Path(tempfile.mkdtemp())
    >>> names = {"train_images": "a", "train_labels": "b", "test_images": "c", "test_labels": "d"}
    >>> for key, name in names.items():
    ...     shape = (6, 20, 20) if key.endswith("images") else (6,)
    ...     _ = write_idx(folder / f"{name}.gz", np.ones(shape, dtype=np.uint8))
    >>> load_raw(folder, dataset="idx", files=names).test_images.shape
    (6, 20, 20)
    """
    if dataset not in ("mnist", "idx"):
        raise ValueError(f"dataset must be 'mnist' or 'idx', not {dataset!r}")
    roots = search_roots(root)
    for folder in roots:
        found = locate_files(folder, files)
        if found is not None:
            return read_dataset(found, verify_mnist=dataset == "mnist")
    looked = ", ".join(str(folder) for folder in roots)
    if dataset != "mnist" or not download or files is not None:
        names = ", ".join(f"{name}[.gz]" for name in _file_names(files).values())
        raise DatasetNotFoundError(
            f"no {names} in {looked} (flat or {'/'.join(TORCHVISION_FOLDERS)} layout)"
        )
    return read_dataset(
        download_mnist(roots[0], mirrors=mirrors, progress=progress), verify_mnist=True
    )


def to_model_space(
    images: np.ndarray | torch.Tensor, bounds: Sequence[float] = (-1.0, 1.0)
) -> torch.Tensor:
    """``uint8`` pixels in 0..255 -> ``float32`` in ``bounds``, as the report's transforms.

    ``ToTensor`` (divide by 255) then ``Normalize`` to the model's range (the report's
    ``Normalize(0.5, 0.5)`` for the default ``[-1, 1]``); a channel axis is added:
    ``(N, H, W) -> (N, 1, H, W)``.

    Examples
    --------
    >>> to_model_space(np.array([[[0, 255]]], dtype=np.uint8)).tolist()
    [[[[-1.0, 1.0]]]]
    >>> to_model_space(np.array([[[0, 255]]], dtype=np.uint8), bounds=(0, 1)).tolist()
    [[[[0.0, 1.0]]]]
    """
    low, high = (float(value) for value in bounds)
    pixels = torch.as_tensor(np.array(images, dtype=np.uint8)).float().div(255.0)
    return pixels.mul(high - low).add(low).unsqueeze(-3)


def split_indices(n: int, val_fraction: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A seeded random split of ``range(n)`` into training and validation indices.

    Returns
    -------
    train, val
        ``int64`` index tensors; ``len(val) == round(n * val_fraction)``.

    Examples
    --------
    >>> train, val = split_indices(10, 0.2)
    >>> len(train), len(val), sorted(torch.cat([train, val]).tolist()) == list(range(10))
    (8, 2, True)
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), not {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * val_fraction)
    return order[n_val:], order[:n_val]


@dataclass(frozen=True)
class Splits:
    """Train/validation/test tensors in the model's input space, on the CPU.

    ``*_x`` are ``float32 (N, C, H, W)`` in the model's input range ([-1, 1] for the
    report's CNN); ``*_y`` are ``int64 (N,)``. Training moves each batch to the model's
    device.

    Examples
    --------
    Usually made by :func:`load_splits`; tiny synthetic splits work the same:

    >>> x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    >>> splits = Splits(x[:8], y[:8], x[8:], y[8:], x, y)
    >>> len(splits.train_x), len(splits.val_x), splits.num_classes
    (8, 2, 10)
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int = 10


def make_splits(
    raw: RawDataset,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    bounds: Sequence[float] = (-1.0, 1.0),
) -> Splits:
    """The report's 90/10 split of the training set, scaled to ``bounds`` (R1).

    Parameters
    ----------
    raw
        From :func:`load_raw`.
    val_fraction, seed
        See :func:`split_indices`.
    bounds
        The model's input range (:func:`cnnviz.core.classifier.input_bounds`): black pixels
        become ``low``, white ``high``; default the report's ``[-1, 1]``.

    Examples
    --------
    >>> zeros = np.zeros((10, 4, 4), dtype=np.uint8)
    >>> raw = RawDataset(zeros, np.arange(10) % 3, zeros[:5], np.arange(5) % 3, Path("."))
    >>> splits = make_splits(raw, val_fraction=0.2, bounds=(0, 1))
    >>> tuple(splits.train_x.shape), splits.num_classes, splits.val_x.min().item()
    ((8, 1, 4, 4), 3, 0.0)
    """
    train_idx, val_idx = split_indices(len(raw.train_labels), val_fraction, seed)
    train_x = to_model_space(raw.train_images, bounds)
    train_y = torch.as_tensor(raw.train_labels.astype(np.int64))
    return Splits(
        train_x=train_x[train_idx],
        train_y=train_y[train_idx],
        val_x=train_x[val_idx],
        val_y=train_y[val_idx],
        test_x=to_model_space(raw.test_images, bounds),
        test_y=torch.as_tensor(raw.test_labels.astype(np.int64)),
        num_classes=raw.num_classes,
    )


def load_splits(
    root: str | Path | None = None,
    *,
    dataset: str = "mnist",
    files: Mapping[str, str] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    download: bool = True,
    bounds: Sequence[float] = (-1.0, 1.0),
) -> Splits:
    """:func:`load_raw` then :func:`make_splits`: the one call most users need.

    Examples
    --------
    >>> import tempfile
    >>> from cnnviz.data.idx import write_idx
    >>> folder = Path(tempfile.mkdtemp())
    >>> for key, (name, _, _) in MNIST_FILES.items():
    ...     shape = (20, 28, 28) if key.endswith("images") else (20,)
    ...     _ = write_idx(folder / f"{name}.gz", np.full(shape, 255, dtype=np.uint8))
    >>> splits = load_splits(folder, dataset="idx")
    >>> len(splits.train_x), len(splits.val_x), splits.test_x.max().item()
    (18, 2, 1.0)
    """
    raw = load_raw(root, dataset=dataset, files=files, download=download)
    return make_splits(raw, val_fraction=val_fraction, seed=seed, bounds=bounds)


def first_per_class(labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """Index of the first sample of each class ``0..num_classes-1`` in ``labels``.

    Raises ``ValueError`` if a class is absent.

    Examples
    --------
    >>> first_per_class(torch.tensor([2, 0, 0, 1]), num_classes=3).tolist()
    [1, 3, 0]
    """
    indices = []
    for label in range(num_classes):
        found = (labels == label).nonzero()
        if len(found) == 0:
            raise ValueError(f"no sample of class {label}")
        indices.append(int(found[0, 0]))
    return torch.tensor(indices, device=labels.device)
