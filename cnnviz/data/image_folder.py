"""A teacher's pictures as model inputs: a folder of images, or one picture (upload, webcam).

:func:`load_image_folder` reads every picture in a folder (and its subfolders, whose
names are the pictures' classes when they match the model's class names), checked: a
file that is not a picture, too big, or too many files stop it with one sentence naming
the file. :func:`picture_to_input` turns one ``uint8`` picture into a model input: grey
or colour as the model takes it, stretched to its size (PIL bilinear), scaled to its bounds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from cnnviz.core.classifier import from_pixels

#: At most this many pictures in a folder (each becomes a tensor in memory).
MAX_IMAGES = 500
#: At most this many subfolders are searched.
MAX_FOLDERS = 100
#: The largest picture file read (bytes).
MAX_FILE_BYTES = 10 * 2**20
#: The largest picture decoded (pixels), far below PIL's decompression-bomb limit.
MAX_PIXELS = 4096 * 4096
#: The file suffixes read as pictures (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: Files a file manager leaves behind, skipped like hidden files (names starting with ".").
IGNORED_FILES = frozenset({"Thumbs.db", "desktop.ini"})


class ImageFolderError(ValueError):
    """A folder of pictures that cannot be read, in one sentence naming the folder or file.

    Examples
    --------
    >>> load_image_folder("no/such/folder", shape=(1, 28, 28), bounds=(0, 1))
    Traceback (most recent call last):
    ...
    cnnviz.data.image_folder.ImageFolderError: no/such/folder is not a folder
    """


@dataclass(frozen=True)
class ImageSet:
    """The pictures of a folder as model inputs.

    Attributes
    ----------
    images
        ``(N, C, H, W)`` float32 in the model's bounds, resized to its input shape.
    names
        Each picture's path relative to the folder, with ``/`` (``"cat/01.png"``), sorted.
    labels
        Each picture's class index when its top subfolder is a class name (``"cat"``),
        else ``None``.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "dog").mkdir()
    >>> Image.new("RGB", (40, 30), (255, 0, 0)).save(folder / "dog" / "red.png")
    >>> pictures = load_image_folder(
    ...     folder, shape=(3, 8, 8), bounds=(-1, 1), classes=["cat", "dog"]
    ... )
    >>> len(pictures), pictures.names, pictures.labels
    (1, ('dog/red.png',), (1,))
    >>> pictures.images[0, :, 0, 0].tolist()
    [1.0, -1.0, -1.0]
    """

    images: torch.Tensor
    names: tuple[str, ...]
    labels: tuple[int | None, ...]

    def __len__(self) -> int:
        """The number of pictures."""
        return len(self.names)


def _check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    """``shape`` as ``(C, H, W)`` with C 1 or 3 and positive sides, or a ``ValueError``."""
    values = tuple(int(n) for n in shape)
    if len(values) != 3 or values[0] not in (1, 3) or min(values) < 1:
        raise ValueError(f"shape must be (C, H, W) with C 1 or 3, not {tuple(shape)}")
    return values


def picture_to_input(
    picture: np.ndarray, *, shape: Sequence[int], bounds: Sequence[float]
) -> torch.Tensor:
    """One ``uint8`` picture as a model input ``(1, C, H, W)``.

    Parameters
    ----------
    picture
        ``uint8``: grey ``(h, w)`` or ``(h, w, 1)``, RGB ``(h, w, 3)`` or RGBA
        ``(h, w, 4)`` (transparent parts shown over white, as a browser shows them).
    shape
        The model's ``(C, H, W)``: C 1 (grey, ITU-R 601 luma) or 3 (colour; a grey
        picture is repeated in the three channels). The picture is stretched to
        ``H x W`` with PIL's bilinear filter.
    bounds
        ``(black, white)`` in the model's input: pixel 0 becomes ``black``, 255 ``white``.

    Returns
    -------
    torch.Tensor
        ``(1, C, H, W)`` float32 in ``[black, white]``.

    Raises
    ------
    ValueError
        Not a ``uint8`` array of one of those shapes, or an empty one.

    Examples
    --------
    >>> picture = np.zeros((2, 2, 4), np.uint8)  # fully transparent: white
    >>> picture[0, :, :] = (0, 0, 255, 255)      # the top row blue, opaque
    >>> x = picture_to_input(picture, shape=(3, 2, 2), bounds=(-1, 1))
    >>> x.shape, x[0, :, 0, 0].tolist(), x[0, :, 1, 0].tolist()
    (torch.Size([1, 3, 2, 2]), [-1.0, -1.0, 1.0], [1.0, 1.0, 1.0])
    >>> picture_to_input(np.zeros((8, 8), np.uint8), shape=(1, 4, 4), bounds=(0, 1)).sum()
    tensor(0.)
    """
    channels, height, width = _check_shape(shape)
    if not isinstance(picture, np.ndarray) or picture.dtype != np.uint8:
        raise ValueError(
            f"a picture must be a uint8 array, not {getattr(picture, 'dtype', picture)}"
        )
    if picture.ndim == 3 and picture.shape[2] == 1:
        picture = picture[:, :, 0]
    if picture.ndim not in (2, 3) or (picture.ndim == 3 and picture.shape[2] not in (3, 4)):
        raise ValueError(
            f"a picture must be (h, w) grey, (h, w, 3) RGB or (h, w, 4) RGBA, not {picture.shape}"
        )
    if picture.shape[0] == 0 or picture.shape[1] == 0:
        raise ValueError(f"a picture must not be empty, not {picture.shape}")
    image = Image.fromarray(picture)
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    image = image.convert("L" if channels == 1 else "RGB").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    pixels = pixels[None] if channels == 1 else pixels.permute(2, 0, 1)
    low, high = (float(value) for value in bounds)
    return from_pixels(pixels[None].contiguous(), (low, high))


def _picture_files(folder: Path, limit: int) -> list[Path]:
    """The files under ``folder`` (hidden and file-manager files skipped), sorted; bounded."""
    files: list[Path] = []
    folders = 0
    for root, subfolders, names in os.walk(folder):
        folders += 1
        if folders > MAX_FOLDERS:
            raise ImageFolderError(
                f"{folder} has more than {MAX_FOLDERS} subfolders; give a folder of pictures"
            )
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in names:
            if name.startswith(".") or name in IGNORED_FILES:
                continue
            files.append(Path(root) / name)
            if len(files) > limit:
                raise ImageFolderError(
                    f"{folder} has more than {limit} files; cnnviz shows at most {limit} pictures"
                )
    return sorted(files, key=lambda path: path.relative_to(folder).as_posix())


def _read_picture(path: Path, shown: str) -> np.ndarray:
    """The picture at ``path``, upright, as ``uint8`` RGBA ``(h, w, 4)``; errors name ``shown``."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ImageFolderError(
            f"{shown} is not an image (cnnviz reads {', '.join(IMAGE_SUFFIXES)}); "
            "move it out of the folder"
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageFolderError(
            f"{shown} is {size / 2**20:.1f} MB; pictures must be at most "
            f"{MAX_FILE_BYTES // 2**20} MB"
        )
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:  # an ImageFolderError passes the except below
                raise ImageFolderError(
                    f"{shown} is {width}x{height} pixels; pictures must have at most "
                    f"{MAX_PIXELS} pixels"
                )
            upright = ImageOps.exif_transpose(image)  # a phone photo's EXIF rotation
            return np.asarray(upright.convert("RGBA"))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageFolderError(f"{shown} is not a readable image: {error}") from None


def load_image_folder(
    path: str | Path,
    *,
    shape: Sequence[int],
    bounds: Sequence[float],
    classes: Sequence[str] | None = None,
    limit: int = MAX_IMAGES,
) -> ImageSet:
    """Every picture in a folder (and its subfolders) as model inputs, checked.

    Parameters
    ----------
    path
        The folder. Pictures may sit in subfolders named after classes
        (``cat/01.png``); hidden files and folders (``.DS_Store``) are skipped.
    shape
        The model's ``(C, H, W)`` (C 1 or 3): pictures are converted and stretched to it
        (:func:`picture_to_input`).
    bounds
        ``(black, white)`` in the model's input.
    classes
        The model's class names: a picture whose top subfolder has one of these names
        (ignoring case) is labelled with its index.
    limit
        The most files read (default :data:`MAX_IMAGES`).

    Returns
    -------
    ImageSet
        Sorted by relative path: the same folder gives the same order on every machine.

    Raises
    ------
    ImageFolderError
        One sentence: not a folder; no pictures (naming the suffixes read); a file that
        is not a picture, unreadable, over :data:`MAX_FILE_BYTES` or :data:`MAX_PIXELS`;
        more than ``limit`` files or :data:`MAX_FOLDERS` folders.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "notes.txt").write_text("cats and dogs")
    13
    >>> load_image_folder(folder, shape=(3, 32, 32), bounds=(0, 1))
    Traceback (most recent call last):
    ...
    cnnviz.data.image_folder.ImageFolderError: .../notes.txt is not an image (cnnviz reads .png, ...
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ImageFolderError(f"{path} is not a folder")
    shape = _check_shape(shape)
    files = _picture_files(folder, limit)
    if not files:
        raise ImageFolderError(
            f"{path} has no pictures (cnnviz reads {', '.join(IMAGE_SUFFIXES)} files)"
        )
    index = {name.lower(): k for k, name in enumerate(classes or ())}
    names, labels, images = [], [], []
    for file in files:
        relative = file.relative_to(folder).as_posix()
        picture = _read_picture(file, str(Path(path) / relative))
        images.append(picture_to_input(picture, shape=shape, bounds=bounds))
        names.append(relative)
        top = relative.split("/")[0].lower() if "/" in relative else None
        labels.append(index.get(top) if top is not None else None)
    return ImageSet(images=torch.cat(images), names=tuple(names), labels=tuple(labels))
