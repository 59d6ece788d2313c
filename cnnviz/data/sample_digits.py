"""MNIST test digits that are always there: the full test set, or a bundled sample.

The app and the attacks on "other digits" need real test digits, but a Space visitor or
a fresh install has no MNIST. The package ships a stratified sample of the official
test set (``samples/mnist_test_sample.npz``: 100 digits per class, uint8, with their
indices into the 10,000 test digits), made by :func:`make_test_sample` from the
verified MNIST files. :func:`load_test_digits` returns the full test set when MNIST is
on the machine (it never downloads) and the sample otherwise.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges
(http://yann.lecun.com/exdb/mnist/), shared under CC BY-SA 3.0.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from cnnviz.data.idx import IDXError
from cnnviz.data.mnist import DatasetNotFoundError, RawDataset, load_raw, to_model_space

SAMPLE_PATH = Path(__file__).parents[1] / "samples" / "mnist_test_sample.npz"
SAMPLE_PER_CLASS = 100
SAMPLE_SEED = 0
PICK_SEED = 2019  # picks the test digits the figures and examples show (the report's year)


def sample_indices(n_available: int, count: int, seed: int = PICK_SEED) -> torch.Tensor:
    """``count`` distinct, seeded random indices into a split of ``n_available`` digits.

    Drawn on the CPU with a generator seeded with ``seed``, so the picks are the same on
    every machine.

    Examples
    --------
    >>> picks = sample_indices(10_000, 5)
    >>> picks.shape, len(set(picks.tolist())), bool(picks.max() < 10_000)
    (torch.Size([5]), 5, True)
    """
    if not 0 <= count <= n_available:
        raise ValueError(f"cannot pick {count} of {n_available} digits")
    return torch.randperm(n_available, generator=torch.Generator().manual_seed(seed))[:count]


@dataclass(frozen=True)
class DigitSample:
    """Labelled MNIST test digits in the model's input space.

    Attributes
    ----------
    x
        ``float32 (N, 1, 28, 28)`` in [-1, 1].
    y
        ``int64 (N,)`` true labels 0..9.
    indices
        ``int64 (N,)`` position of each digit in the official 10,000-digit test set.
    full
        ``True`` for the whole test set, ``False`` for the bundled sample.

    Examples
    --------
    >>> sample = read_test_sample()
    >>> sample.full, sample.description
    (False, 'a bundled sample of 1,000 MNIST test digits')
    """

    x: torch.Tensor
    y: torch.Tensor
    indices: torch.Tensor
    full: bool

    @property
    def description(self) -> str:
        """What these digits are, for a sentence shown to a user."""
        if self.full:
            return f"the MNIST test set ({len(self.y):,} digits)"
        return f"a bundled sample of {len(self.y):,} MNIST test digits"


def make_test_sample(
    raw: RawDataset, per_class: int = SAMPLE_PER_CLASS, seed: int = SAMPLE_SEED
) -> dict[str, np.ndarray]:
    """A seeded, stratified sample of the test set: ``per_class`` digits of each class.

    Returns
    -------
    dict
        ``images`` ``uint8 (10 * per_class, 28, 28)``, ``labels`` ``uint8 (10 * per_class,)``
        and ``indices`` ``int64`` into the test set, sorted by index.

    Examples
    --------
    >>> images = np.zeros((30, 28, 28), dtype=np.uint8)
    >>> labels = (np.arange(30) % 10).astype(np.uint8)
    >>> raw = RawDataset(images, labels, images, labels, Path("."))
    >>> sample = make_test_sample(raw, per_class=2)
    >>> sample["images"].shape, np.bincount(sample["labels"]).tolist()
    ((20, 28, 28), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    """
    rng = np.random.default_rng(seed)
    labels = raw.test_labels
    picked = [
        rng.choice(np.flatnonzero(labels == k), size=per_class, replace=False)
        for k in range(int(labels.max()) + 1)
    ]
    indices = np.sort(np.concatenate(picked)).astype(np.int64)
    return {"images": raw.test_images[indices], "labels": labels[indices], "indices": indices}


def write_test_sample(raw: RawDataset, path: str | Path = SAMPLE_PATH) -> Path:
    """Write :func:`make_test_sample` of ``raw`` as a compressed ``.npz``.

    Returns the path written; :func:`read_test_sample` reads it back.

    Examples
    --------
    >>> import tempfile
    >>> images = np.zeros((1000, 28, 28), dtype=np.uint8)
    >>> labels = (np.arange(1000) % 10).astype(np.uint8)
    >>> raw = RawDataset(images, labels, images, labels, Path("."))
    >>> path = write_test_sample(raw, Path(tempfile.mkdtemp()) / "sample.npz")
    >>> len(read_test_sample(path).y)
    1000
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **make_test_sample(raw))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def read_test_sample(path: str | Path = SAMPLE_PATH) -> DigitSample:
    """The bundled sample (or another file written by :func:`write_test_sample`).

    Examples
    --------
    >>> sample = read_test_sample()
    >>> sample.x.shape, sample.y.bincount().tolist() == [100] * 10
    (torch.Size([1000, 1, 28, 28]), True)
    """
    with np.load(path, allow_pickle=False) as arrays:
        images, labels, indices = arrays["images"], arrays["labels"], arrays["indices"]
    return DigitSample(
        x=to_model_space(images),
        y=torch.as_tensor(labels.astype(np.int64)),
        indices=torch.as_tensor(indices.astype(np.int64)),
        full=False,
    )


@lru_cache(maxsize=1)
def load_test_digits() -> DigitSample:
    """The full MNIST test set if it is on this machine, else the bundled sample.

    Looks where :func:`cnnviz.data.mnist.load_raw` looks (``$CNNVIZ_DATA``, the user cache),
    never downloads, and caches the answer for the process (call
    ``load_test_digits.cache_clear()`` after the data appears).

    Examples
    --------
    >>> digits = load_test_digits()
    >>> digits.x.shape[1:], len(digits.x) in (1000, 10000)
    (torch.Size([1, 28, 28]), True)
    """
    try:
        raw = load_raw(download=False, progress=False)
    except (DatasetNotFoundError, IDXError):
        return read_test_sample()
    return DigitSample(
        x=to_model_space(raw.test_images),
        y=torch.as_tensor(raw.test_labels.astype(np.int64)),
        indices=torch.arange(len(raw.test_labels)),
        full=True,
    )
