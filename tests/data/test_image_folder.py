"""A teacher's folder of pictures as model inputs: conversion, labels, order, every error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.data import image_folder
from cnnviz.data.image_folder import ImageFolderError, ImageSet, load_image_folder, picture_to_input

BOUNDS = (-1.0, 2.0)  # black -1, white 2: a pixel p is -1 + 3 p / 255


def model_value(pixel: float) -> float:
    return BOUNDS[0] + (BOUNDS[1] - BOUNDS[0]) * pixel / 255


def save(path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def one_line(path, **kwargs) -> str:
    """The message of the ImageFolderError reading ``path`` raises; it must be one line."""
    kwargs = {"shape": (3, 8, 8), "bounds": BOUNDS} | kwargs
    with pytest.raises(ImageFolderError) as caught:
        load_image_folder(path, **kwargs)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def test_grey_rgb_and_rgba_pictures_become_inputs_of_the_models_shape_and_bounds(tmp_path):
    save(tmp_path / "grey.png", np.full((20, 30), 51, np.uint8))
    save(tmp_path / "rgb.png", np.tile(np.array([255, 0, 102], np.uint8), (40, 10, 1)))
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = (0, 0, 0)
    rgba[..., 3] = 0  # transparent black over white: white
    rgba[:, 8:] = (0, 255, 0, 255)  # the right half opaque green
    save(tmp_path / "rgba.png", rgba)
    colour = load_image_folder(tmp_path, shape=(3, 4, 4), bounds=BOUNDS)
    assert isinstance(colour, ImageSet) and len(colour) == 3
    assert colour.names == ("grey.png", "rgb.png", "rgba.png")
    assert colour.images.shape == (3, 3, 4, 4) and colour.images.dtype == torch.float32
    grey, rgb, alpha = colour.images
    assert torch.allclose(grey, torch.full((3, 4, 4), model_value(51)))
    assert torch.allclose(rgb, torch.tensor([model_value(v) for v in (255, 0, 102)])[:, None, None])
    assert torch.allclose(alpha[:, :, 0], torch.full((3, 4), 2.0))  # white on the left
    assert torch.allclose(alpha[:, :, -1], torch.tensor([-1.0, 2.0, -1.0])[:, None])  # green
    mono = load_image_folder(tmp_path, shape=(1, 5, 7), bounds=BOUNDS)
    assert mono.images.shape == (3, 1, 5, 7)
    luma = (299 * 255 + 0 * 587 + 114 * 102) / 1000  # PIL's ITU-R 601-2 grey of the RGB one
    assert abs(mono.images[1].mean().item() - model_value(luma)) < 3 * 3 / 255
    assert mono.images.min() >= BOUNDS[0] and mono.images.max() <= BOUNDS[1]


def test_a_phone_photos_exif_rotation_is_applied(tmp_path):
    wide = np.zeros((2, 4), np.uint8)
    wide[0, 0] = 255  # a white top-left pixel
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to show"
    Image.fromarray(wide).save(tmp_path / "photo.png", exif=exif)
    (x,) = load_image_folder(tmp_path, shape=(1, 4, 2), bounds=(0, 1)).images
    assert x[0].tolist() == [[0, 1], [0, 0], [0, 0], [0, 0]]  # turned clockwise: now top right


def test_a_picture_is_stretched_with_its_edges_kept():
    picture = np.zeros((16, 16), np.uint8)
    picture[:, 8:] = 255
    x = picture_to_input(picture, shape=(1, 4, 4), bounds=(0, 1))
    assert x.shape == (1, 1, 4, 4)
    assert x[0, 0, :, 0].tolist() == [0.0] * 4 and x[0, 0, :, -1].tolist() == [1.0] * 4
    assert 0 < x[0, 0, 0, 1] < x[0, 0, 0, 2] < 1
    grey3 = picture_to_input(picture[:, :, None], shape=(3, 4, 4), bounds=(0, 1))
    assert torch.equal(grey3, x.expand(1, 3, 4, 4))


@pytest.mark.parametrize(
    ("picture", "says"),
    [
        (np.zeros((4, 4), np.float32), "a picture must be a uint8 array, not float32"),
        (np.zeros((4, 4, 2), np.uint8), "a picture must be (h, w) grey, (h, w, 3) RGB"),
        (np.zeros((0, 4, 3), np.uint8), "a picture must not be empty"),
    ],
)
def test_a_bad_picture_is_one_clear_error(picture, says):
    with pytest.raises(ValueError, match="a picture") as caught:
        picture_to_input(picture, shape=(3, 4, 4), bounds=(0, 1))
    assert str(caught.value).startswith(says)


def test_subfolders_named_after_classes_give_labels_in_a_sorted_order(tmp_path):
    for name in ["dog/b.png", "Cat/a.png", "cat/c.png", "loose.png", "other/x.png", "dog/a.png"]:
        save(tmp_path / name, np.zeros((4, 4, 3), np.uint8))
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "dog" / "Thumbs.db").write_bytes(b"\0\1")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "notes.txt").write_text("skipped")
    pictures = load_image_folder(tmp_path, shape=(3, 4, 4), bounds=(0, 1), classes=["cat", "dog"])
    names = pictures.names
    assert names == tuple(sorted(names)) and "loose.png" in names
    labels = dict(zip(names, pictures.labels, strict=True))
    assert labels["dog/a.png"] == labels["dog/b.png"] == 1
    assert labels["other/x.png"] is None and labels["loose.png"] is None
    assert labels["Cat/a.png"] == labels["cat/c.png"] == 0  # the folder's case does not matter
    unlabelled = load_image_folder(tmp_path, shape=(3, 4, 4), bounds=(0, 1))
    assert unlabelled.names == names and set(unlabelled.labels) == {None}


def test_a_missing_folder_a_file_and_an_empty_folder_are_one_line(tmp_path):
    assert one_line(tmp_path / "nowhere") == f"{tmp_path / 'nowhere'} is not a folder"
    save(tmp_path / "one.png", np.zeros((4, 4), np.uint8))
    assert one_line(tmp_path / "one.png") == f"{tmp_path / 'one.png'} is not a folder"
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    (tmp_path / "empty" / ".DS_Store").write_bytes(b"")
    message = one_line(tmp_path / "empty")
    assert message == (
        f"{tmp_path / 'empty'} has no pictures (cnnviz reads .png, .jpg, .jpeg, .bmp, .gif, "
        ".webp files)"
    )


def test_a_non_image_file_among_the_pictures_is_named(tmp_path):
    save(tmp_path / "cat" / "01.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "cat" / "notes.txt").write_text("my cats")
    message = one_line(tmp_path)
    assert message.startswith(f"{tmp_path}/cat/notes.txt is not an image (cnnviz reads .png")
    (tmp_path / "cat" / "notes.txt").unlink()
    (tmp_path / "cat" / "02.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    message = one_line(tmp_path)
    assert message.startswith(f"{tmp_path}/cat/02.jpg is not a readable image: ")


def test_too_many_files_too_big_a_file_and_too_many_pixels_are_one_line(tmp_path, monkeypatch):
    for k in range(4):
        save(tmp_path / f"{k}.png", np.full((4, 4), k, np.uint8))
    assert len(load_image_folder(tmp_path, shape=(1, 4, 4), bounds=(0, 1), limit=4)) == 4
    message = one_line(tmp_path, limit=3)
    assert message == f"{tmp_path} has more than 3 files; cnnviz shows at most 3 pictures"
    monkeypatch.setattr(image_folder, "MAX_FILE_BYTES", 60)
    size = (tmp_path / "0.png").stat().st_size
    assert size > 60
    assert one_line(tmp_path).startswith(f"{tmp_path}/0.png is {size / 2**20:.1f} MB;")
    monkeypatch.setattr(image_folder, "MAX_FILE_BYTES", 10**6)
    monkeypatch.setattr(image_folder, "MAX_PIXELS", 15)
    message = one_line(tmp_path)
    assert message == f"{tmp_path}/0.png is 4x4 pixels; pictures must have at most 15 pixels"


def test_the_default_limit_refuses_a_folder_of_more_than_max_images(tmp_path):
    tiny = tmp_path / "tiny.png"
    save(tiny, np.zeros((1, 1), np.uint8))
    for k in range(image_folder.MAX_IMAGES):
        (tmp_path / f"{k:03d}.png").write_bytes(tiny.read_bytes())
    message = one_line(tmp_path)
    assert message.endswith(f"cnnviz shows at most {image_folder.MAX_IMAGES} pictures")


def test_a_shape_the_pictures_cannot_take_is_refused(tmp_path):
    save(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"shape must be \(C, H, W\) with C 1 or 3"):
        load_image_folder(tmp_path, shape=(2, 4, 4), bounds=(0, 1))
