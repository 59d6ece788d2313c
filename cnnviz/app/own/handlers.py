"""What the page on a teacher's model calls: plain functions from UI values to UI values.

No gradio here (tested directly). The model is a :class:`cnnviz.models.user_model.UserModel`
(``spec``): its ``input_shape`` ``(C, H, W)``, ``bounds`` (black, white) and ``classes``
are used everywhere. The page's current image is ``image``: a float32 array
``(1, C, H, W)`` in the model's input space, or ``None`` before one is drawn or picked.

Pictures are ``uint8 (H, W, 3)`` arrays; a value the user gave that cannot be used raises
:class:`~cnnviz.app.inputs.InputError` with a sentence for the user.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np
import torch
from torch.nn import functional as F

from cnnviz.app.handlers import MAX_ATTACK_STEPS, perturbation_image
from cnnviz.app.inputs import InputError, number, sketch_input
from cnnviz.app.pictures import labelled_maps, upscale, with_colour_bar
from cnnviz.attacks.registry import get_attack
from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.targeted import targeted_attack
from cnnviz.core.classifier import class_scores, from_pixels, to_pixels
from cnnviz.data.drawing import DrawingError
from cnnviz.data.image_folder import ImageSet, picture_to_input
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency
from cnnviz.models.user_model import UserModel
from cnnviz.visualise.class_images import class_visualisation

PICTURE_HEIGHT = 224  # px on screen for a model-space picture
ALL = "all"
METHODS = {"FGSM": "fgsm", "PGD-40": "pgd"}
NO_IMAGE_DRAWABLE = "Draw in the box, big and centred."
NO_IMAGE = "Pick one of the pictures, upload one or take one with the webcam."


def no_image_hint(spec: UserModel) -> str:
    """What to do first, for a page with no image yet.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    >>> no_image_hint(user_model(net, input_shape=(3, 4, 4)))
    'Pick one of the pictures, upload one or take one with the webcam.'
    """
    return NO_IMAGE_DRAWABLE if spec.drawable else NO_IMAGE


def occlusion_defaults(spec: UserModel) -> tuple[int, int, int]:
    """``(largest patch, default patch, default stride)`` in pixels for the model's input.

    The report's 5-pixel patch on 28 pixels, scaled to the shorter side; the stride half
    the patch.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2))
    >>> occlusion_defaults(user_model(net, input_shape=(3, 32, 32)))
    (16, 6, 3)
    """
    side = min(spec.input_shape[1:])
    patch = max(2, round(side * 5 / 28))
    return max(2, side // 2), patch, max(1, patch // 2)


def model_input(spec: UserModel, image) -> torch.Tensor | None:
    """The page's ``image`` state as a model input ``(1, C, H, W)``, checked, or ``None``.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> spec = user_model(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), input_shape=(1, 2, 2))
    >>> model_input(spec, np.zeros((1, 1, 2, 2), np.float32)).shape
    torch.Size([1, 1, 2, 2])
    >>> model_input(spec, np.zeros((1, 3, 2, 2), np.float32))
    Traceback (most recent call last):
    ...
    cnnviz.app.inputs.InputError: The image has shape (1, 3, 2, 2); the model takes (1, 1, 2, 2).
    """
    if image is None:
        return None
    array = np.asarray(image, dtype=np.float32)
    wanted = (1, *spec.input_shape)
    if array.shape != wanted:
        raise InputError(f"The image has shape {array.shape}; the model takes {wanted}.")
    if not np.isfinite(array).all():
        raise InputError("The image has values that are not finite numbers.")
    return torch.from_numpy(array.copy())


def from_sketch(spec: UserModel, sketch) -> np.ndarray | None:
    """A sketchpad drawing prepared as MNIST digits are (:mod:`cnnviz.data.drawing`), in the
    model's bounds, or ``None`` when empty; an unreadable drawing raises
    :class:`~cnnviz.app.inputs.InputError`."""
    try:
        x = sketch_input(sketch)  # the report's [-1, 1] space
    except DrawingError as error:
        raise InputError(f"Could not read the drawing: {error}") from None
    return None if x is None else from_pixels((x + 1) / 2, spec.bounds).numpy()


def from_picture(spec: UserModel, picture) -> np.ndarray | None:
    """An uploaded picture or webcam frame (``uint8`` array), resized to the model's input
    (:func:`cnnviz.data.image_folder.picture_to_input`); ``None`` for none."""
    if picture is None:
        return None
    shape, bounds = spec.input_shape, spec.bounds
    return picture_to_input(np.asarray(picture), shape=shape, bounds=bounds).numpy()


def from_folder(images: ImageSet, index) -> np.ndarray:
    """The teacher's picture number ``index`` (a gallery click) as the page's image."""
    pick = int(number(index, "The picture", 0, len(images.names) - 1))
    return images.images[pick : pick + 1].numpy().astype(np.float32)


def folder_truth(spec: UserModel, images: ImageSet, index) -> str:
    """A sentence naming the picked picture and, where its folder names a class, its label.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> spec = user_model(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), input_shape=(1, 2, 2),
    ...                   class_names=["cat", "dog"])
    >>> pictures = ImageSet(torch.zeros(2, 1, 2, 2), ("dog/a.png", "b.png"), (1, None))
    >>> folder_truth(spec, pictures, 0)
    'Picked dog/a.png. Its true label (its folder): **dog**.'
    >>> folder_truth(spec, pictures, 1)
    'Picked b.png (in no class folder: no true label).'
    """
    pick = int(number(index, "The picture", 0, len(images.names) - 1))
    name, label = images.names[pick], images.labels[pick]
    if label is None:
        return f"Picked {name} (in no class folder: no true label)."
    return f"Picked {name}. Its true label (its folder): **{spec.classes[label]}**."


def model_picture(spec: UserModel, x: torch.Tensor, height: int | None = PICTURE_HEIGHT):
    """One model-space image ``(1, C, H, W)`` or ``(C, H, W)`` as the model sees it: RGB
    for three channels, else grey (the channels' mean), upscaled with sharp pixels to
    ``height`` (``None``: its own size)."""
    pixels = to_pixels(x.detach().reshape(spec.input_shape), spec.bounds).clamp(0, 1)
    rgb = pixels.permute(1, 2, 0) if pixels.shape[0] == 3 else pixels.mean(0)[:, :, None]
    rgb = rgb.expand(*rgb.shape[:2], 3).numpy()
    return upscale(rgb, height or rgb.shape[0])


def folder_gallery(spec: UserModel, images: ImageSet) -> list[tuple[np.ndarray, str]]:
    """The teacher's pictures as the model sees them, captioned with their file names
    without folder or suffix (the folder is the class; the full name shows when picked).

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> spec = user_model(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), input_shape=(3, 2, 2))
    >>> pictures = ImageSet(torch.zeros(2, 3, 2, 2), ("car/car-007.png", "b.jpg"), (0, None))
    >>> [caption for _, caption in folder_gallery(spec, pictures)]
    ['car-007', 'b']
    """
    return [
        (model_picture(spec, image, height=128), PurePosixPath(name).stem)
        for image, name in zip(images.images, images.names, strict=True)
    ]


def probabilities(spec: UserModel, x: torch.Tensor) -> dict[str, float]:
    """Class probabilities of one input ``(1, C, H, W)``, by class name (a ``gr.Label``
    value)."""
    with torch.no_grad():
        probs = F.softmax(class_scores(spec.model, x), dim=1)[0]
    return {name: float(p) for name, p in zip(spec.classes, probs, strict=True)}


def returns_log_probabilities(spec: UserModel, x: torch.Tensor) -> bool:
    """Whether the model's scores of ``x`` are log-probabilities (``log_softmax`` output:
    their exponentials sum to 1), so that their gradients vanish where it is sure.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax(dim=1))
    >>> returns_log_probabilities(user_model(net, input_shape=(1, 2, 2)), torch.ones(1, 1, 2, 2))
    True
    """
    with torch.no_grad():
        total = torch.logsumexp(class_scores(spec.model, x), dim=1)
    return bool(total.abs().max() < 1e-4)


LOG_PROBABILITY_NOTE = (
    " Your model returns log-probabilities (log_softmax): where it is sure, log p barely "
    "changes with any pixel, so its saliency is small; a model returning logits shows more."
)


def look(spec: UserModel, image, patch, stride):
    """Draw / Look tab: probabilities, what the model sees, occlusion, saliency, message.

    The occlusion map is on a fixed 0-100 % scale, the saliency map (largest
    ``|gradient|`` over the channels) on ``[0, max]``; both with labelled colour bars.
    """
    largest = occlusion_defaults(spec)[0]
    patch = int(number(patch, "The occlusion patch", 2, largest))
    stride = min(int(number(stride, "The occlusion stride", 1, largest)), patch)
    x = model_input(spec, image)
    if x is None:
        return None, None, None, None, no_image_hint(spec)
    probs = probabilities(spec, x)
    guess = int(np.argmax(list(probs.values())))
    name = spec.classes[guess]
    heat = occlusion(spec.model, x[0], guess, patch=patch, stride=stride, bounds=spec.bounds)
    heat = heat.probability.numpy()
    salient = saliency(spec.model, x, guess, bounds=spec.bounds)[0].amax(0).numpy()
    top = float(salient.max())
    message = (
        f"The model reads **{name}** ({probs[name]:.1%}). A {patch}x{patch} grey patch "
        f"anywhere leaves p({name}) at {float(heat.min()):.1%} or more (map: colour scale "
        f"0-100 %). Saliency: |d score({name}) / d pixel|, largest {top:.3g}."
    )
    if returns_log_probabilities(spec, x):
        message += LOG_PROBABILITY_NOTE
    return (
        probs,
        model_picture(spec, x, height=None),  # the page shows it larger with sharp pixels
        with_colour_bar(heat, "magma", 0.0, 1.0, ["100 %", "50 %", "0 %"]),
        with_colour_bar(salient, "hot", 0.0, top, [f"{top:.3g}", f"{top / 2:.3g}", "0"]),
        message,
    )


def class_choices(spec: UserModel) -> list[tuple[str, str]]:
    """The Classes tab's menu: ``(shown, value)`` pairs, "all" first, then each class.

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.models.user_model import user_model
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> class_choices(user_model(net, input_shape=(1, 2, 2), class_names=["cat", "dog"]))
    [('all', 'all'), ('cat', '0'), ('dog', '1')]
    """
    return [(ALL, ALL), *((name, str(k)) for k, name in enumerate(spec.classes))]


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless one.

    Examples
    --------
    >>> counted(1, "step"), counted(40, "step"), counted(0, "picture")
    ('1 step', '40 steps', '0 pictures')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def class_index(spec: UserModel, value, what: str) -> int:
    """A class menu's value (the index, as text or int) checked against the model."""
    return int(number(value, what, 0, len(spec.classes) - 1))


def grow_class_images(spec: UserModel, target):
    """Classes tab: images grown from noise until the model is sure (library defaults),
    captioned with the class name, its final probability and steps; and a status."""
    targets = (
        list(range(len(spec.classes)))
        if target == ALL
        else [class_index(spec, target, "The class")]
    )
    result = class_visualisation(spec.model, targets, shape=spec.input_shape, bounds=spec.bounds)
    items = []
    for image, k, p, steps, ok in zip(
        result.images, targets, result.probabilities, result.steps, result.success, strict=True
    ):
        reached = "" if ok else " (did NOT reach 0.99)"
        caption = (
            f"{spec.classes[k]}: p = {float(p):.3f} after {counted(int(steps), 'step')}{reached}"
        )
        items.append((model_picture(spec, image), caption))
    failed = [spec.classes[k] for k, ok in zip(targets, result.success, strict=True) if not ok]
    status = (
        f"{len(targets)} of {len(targets)} reached p >= 0.99 "
        f"(max {counted(int(result.steps.max()), 'step')})."
        if not failed
        else f"**{len(failed)} of {len(targets)} did not reach p >= 0.99** within the step "
        f"cap: {', '.join(failed)}."
    )
    return items, status


RGB = ["red", "green", "blue"]


def attack_outputs(spec: UserModel, result: AttackResult, summary: str):
    """Attacked image, its change with a colour bar, before/after probabilities, summary."""
    change, size = perturbation_image(result)
    before = probabilities(spec, result.originals)
    after = probabilities(spec, result.images)
    if spec.input_shape[0] == 3:
        limit = float(result.perturbation_size()[0][0]) or 1.0
        change = labelled_maps(result.perturbation[0].detach().numpy(), RGB, limit)
        size += " Each channel's change is drawn under its name (red, green, blue)."
    return model_picture(spec, result.images), change, before, after, f"{summary} {size}"


def targeted(spec: UserModel, image, target, beta, max_steps):
    """Targeted tab: make the image read as class ``target`` while staying close to it."""
    target = class_index(spec, target, "The target class")
    beta = number(beta, "beta", 0, 200)
    steps = int(number(max_steps, "The step cap", 1, MAX_ATTACK_STEPS))
    x = model_input(spec, image)
    if x is None:
        return None, None, None, None, no_image_hint(spec)
    before = probabilities(spec, x)
    if max(before, key=before.get) == spec.classes[target]:
        name = spec.classes[target]
        return None, None, before, None, f"It already reads {name}: pick another class."
    result = targeted_attack(spec.model, x, [target], beta=beta, steps=steps, bounds=spec.bounds)
    verdict = "Success" if bool(result.success[0]) else "Not reached within the step cap"
    summary = (
        f"{verdict}: p({spec.classes[target]}) = {float(result.probabilities[0]):.3f} after "
        f"{counted(int(result.steps[0]), 'step')}."
    )
    return attack_outputs(spec, result, summary)


def gradient_attack(spec: UserModel, image, method: str, eps):
    """FGSM / PGD tab: untargeted attack on the image, budget ``eps`` pixels (L-inf)."""
    if method not in METHODS:
        raise InputError(f"Method must be one of {list(METHODS)}, not {method!r}.")
    eps = number(eps, "epsilon", 0, 0.4)
    x = model_input(spec, image)
    if x is None:
        return None, None, None, None, no_image_hint(spec)
    with torch.no_grad():
        label = class_scores(spec.model, x).argmax(1)
    result = get_attack(METHODS[method])(spec.model, x, label, eps=eps, bounds=spec.bounds)
    was, now = spec.classes[int(label[0])], spec.classes[int(result.predictions[0])]
    summary = f"{method} with budget eps = {eps:.2f}: read as {was} -> {now}."
    return attack_outputs(spec, result, summary)
