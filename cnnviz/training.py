"""Training (R3) and evaluation (R4) of any classifier over in-memory tensors, on any device.

Works on every model of the contract in :mod:`cnnviz.classifier` (class scores from
``logits`` where the model has it, else ``forward``; input range from ``input_bounds``),
trained with SGD on the cross-entropy of its class scores. :func:`cached_train` trains the
report's CNN once per setup and keeps the result on disk.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz import __version__
from cnnviz.attacks import accuracy_under_attack, pgd
from cnnviz.averaging import WeightAverage
from cnnviz.checkpoint import history_path, load_checkpoint, save_checkpoint
from cnnviz.classifier import Bounds, class_scores, input_bounds, model_placement, pixel_scale
from cnnviz.data import Splits, batch_indices, default_cache_dir
from cnnviz.history import History
from cnnviz.model import CNN, eval_mode
from cnnviz.progress import Progress, ProgressBar, TensorBoardLog


@dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, schedule, batch size, augmentation.

    Parameters
    ----------
    name
        Label stored in histories and checkpoints.
    epochs
        Passes over the training split.
    batch_size
        Samples per SGD step.
    lr
        Learning rate (the peak rate for ``schedule="onecycle"``).
    momentum, nesterov, weight_decay
        SGD settings.
    schedule
        ``"constant"`` or ``"onecycle"`` (warm-up then cosine annealing, per step).
    max_shift
        Random translation of each training image by up to this many pixels in x and y
        (0: no augmentation).
    val_every
        Validate every this many steps (and at the end of every epoch).
    val_size
        Validate on the first this many validation images (0: all of them); a live
        view that validates often uses a part.
    precision
        ``"fp32"``; ``"bf16"``: bfloat16 autocast for the forward pass (weights and
        optimiser stay fp32); ``"auto"``: bf16 where the CPU has native bfloat16
        arithmetic (AVX512-BF16/AMX), else fp32.
    channels_last
        Keep convolution tensors in channels-last memory layout (faster on CPUs).
    optimizer
        ``"sgd"`` (with ``momentum``, ``nesterov``) or ``"adam"``.
    adversarial_eps
        Adversarial training (Madry et al. 2018): every batch is replaced by a PGD attack
        on it within this L-inf budget, pixel units of [0, 1] images (0: plain training).
    adversarial_steps
        Attack steps per batch, each from a uniform random start (1: FGSM with random
        start, Wong et al. 2020); step size ``2.5 * eps / steps`` (1.25 eps for one step).
    eps_warmup_epochs
        The budget grows linearly from 0 to ``adversarial_eps`` over these epochs.
    noise_std, noise_mean
        Gaussian noise N(``noise_mean``, ``noise_std``) in pixel units added to every
        training image before the attack, then clipped to the input range (``noise_std``
        0: none). Noise-trained networks have gradients that look like the data (Kaur et
        al. 2019); a negative mean makes strokes fainter while the clipped background
        stays dark, so that mid-grey counts as faint ink, not as background.
    clean_weight
        Adversarial training: the weight, in [0, 1), of the cross-entropy on the batch as
        it was (shifted, without noise or attack) in the loss; the attacked batch's weight
        is ``1 - clean_weight`` (Goodfellow et al. 2015 used 0.5). A price in robustness
        for clean accuracy.
    clean_salt
        With ``clean_weight``: the share, in [0, 1), of the clean copy's pixels set to
        the brightest value, at random, before it enters the loss; the network learns to
        read digits through scattered white dots.
    weight_average
        Decay of an exponential moving average of the weights, in [0, 1) (0: none;
        0.999: about the last 1,000 steps; see :class:`~cnnviz.averaging.WeightAverage`).
        Validation, the robust check and the returned model use the average.
    robust_val_size, robust_val_steps
        After every epoch of adversarial training, PGD with this many steps at
        ``adversarial_eps`` on the first ``robust_val_size`` validation images; the epoch
        with the best accuracy under it is kept (the last of those that tie), and
        training stops early when that accuracy collapses below half its best
        (catastrophic overfitting).
    finish
        Another recipe that goes on training the result (a short fine-tune at a low
        rate, say), with the same seed, unless training was stopped; its history
        continues this one's.

    Examples
    --------
    >>> recipe = Recipe("short", epochs=2, batch_size=256, lr=0.05, momentum=0.9)
    >>> recipe.schedule, recipe.max_shift, RECIPES["report"].batch_size
    ('constant', 0, 64)
    """

    name: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    max_shift: int = 0
    val_every: int = 100
    val_size: int = 0
    precision: str = "fp32"
    channels_last: bool = False
    optimizer: str = "sgd"
    adversarial_eps: float = 0.0
    adversarial_steps: int = 1
    eps_warmup_epochs: float = 0.0
    noise_std: float = 0.0
    noise_mean: float = 0.0
    clean_weight: float = 0.0
    clean_salt: float = 0.0
    weight_average: float = 0.0
    robust_val_size: int = 1000
    robust_val_steps: int = 20
    finish: Recipe | None = None

    def __post_init__(self) -> None:
        for name in ("clean_weight", "clean_salt", "weight_average"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), not {getattr(self, name)}")


def _with_finish(recipe: Recipe, **changes: object) -> Recipe:
    """``recipe`` finished by a copy of itself named ``<name>-finish`` with ``changes``."""
    return replace(recipe, finish=replace(recipe, name=f"{recipe.name}-finish", **changes))


#: ``report``: as the assignment (SGD lr 0.01, momentum 0.5, batch 64, 10 epochs).
#: ``fast``: our best on a 2-core CPU: larger batches, one-cycle schedule, Nesterov
#: momentum, weight decay, +-2 px random shifts, bf16 autocast where the CPU has it and
#: channels-last layout.
#: ``robust``: adversarial training against PGD-7 at eps 0.3 (pixel units) with a
#: one-epoch warm-up of the budget, Adam with a one-cycle schedule, batches of 100, 14
#: epochs (after Madry et al. 2018 and Wong et al. 2020), keeping the epoch most robust
#: on validation; every image first gets N(-0.3, 0.25) noise, which turns the dotted
#: outlines grown from noise into strokes on a dark background, and 25 % of the loss is
#: the clean batch's, for clean accuracy; the weights returned are their moving average.
#: It finishes with 3 epochs of the same at a fifth of the rate, 12 % of the clean
#: copy's pixels set to white: its class images read more often as their digit.
RECIPES: dict[str, Recipe] = {
    "report": Recipe("report", epochs=10, batch_size=64, lr=0.01, momentum=0.5),
    "fast": Recipe(
        "fast",
        epochs=8,
        batch_size=128,
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        schedule="onecycle",
        max_shift=2,
        precision="auto",
        channels_last=True,
    ),
    "robust": _with_finish(
        Recipe(
            "robust",
            epochs=14,
            batch_size=100,
            lr=0.005,
            momentum=0.0,
            schedule="onecycle",
            val_every=600,
            channels_last=True,
            optimizer="adam",
            adversarial_eps=0.3,
            adversarial_steps=7,
            eps_warmup_epochs=1,
            noise_std=0.25,
            noise_mean=-0.3,
            clean_weight=0.25,
            weight_average=0.999,
        ),
        epochs=3,
        lr=0.001,
        eps_warmup_epochs=0,
        clean_salt=0.12,
    ),
}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device``, else CUDA when available, else the CPU.

    Parameters
    ----------
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``, or ``None``.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device().type in ("cuda", "cpu")
    True

    Raises
    ------
    ValueError
        For a name torch does not know, or CUDA on a machine without it.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r} ({error})") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    return chosen


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``"fp32"`` or ``"bf16"``: what ``precision`` (maybe ``"auto"``) means on ``device``.

    ``"auto"`` is ``"bf16"`` where the device has native bfloat16 arithmetic (a CPU with
    AVX512-BF16/AMX, a CUDA GPU that supports it), else ``"fp32"``. The environment
    variable ``CNNVIZ_PRECISION=fp32`` makes ``"auto"`` mean ``"fp32"`` everywhere, so a
    machine with bf16 can run (and the docs build can check) the path of a machine
    without it; ``CNNVIZ_PRECISION=auto`` or unset keeps the default. An explicit
    ``"fp32"`` or ``"bf16"`` is never overridden.

    Raises
    ------
    ValueError
        For another ``precision``, or another value of ``CNNVIZ_PRECISION``.

    Examples
    --------
    >>> resolve_precision("fp32")
    'fp32'
    >>> resolve_precision("auto") in ("fp32", "bf16")
    True
    >>> import os
    >>> os.environ["CNNVIZ_PRECISION"] = "fp32"
    >>> resolve_precision("auto"), resolve_precision("bf16")
    ('fp32', 'bf16')
    >>> del os.environ["CNNVIZ_PRECISION"]
    """
    if precision not in ("fp32", "bf16", "auto"):
        raise ValueError(f"precision must be 'fp32', 'bf16' or 'auto', not {precision!r}")
    if precision != "auto":
        return precision
    forced = os.environ.get("CNNVIZ_PRECISION", "auto") or "auto"
    if forced not in ("fp32", "auto"):
        raise ValueError(f"CNNVIZ_PRECISION must be 'fp32' or 'auto', not {forced!r}")
    if forced == "fp32":
        return "fp32"
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def get_recipe(recipe: str | Recipe, epochs: int | None = None) -> Recipe:
    """A recipe by name (see :data:`RECIPES`), optionally with another number of epochs.

    Examples
    --------
    >>> get_recipe("report").lr, get_recipe("fast", epochs=2).epochs
    (0.01, 2)
    """
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
        recipe = RECIPES[recipe]
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be positive, not {epochs}")
        recipe = replace(recipe, epochs=epochs)
    return recipe


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean cross-entropy (negative log-likelihood) and accuracy (%) of ``model`` on ``(x, y)``.

    Runs in eval mode (batch norm uses its running statistics); the model's mode is
    restored afterwards. Batches are moved to the model's device; ``x`` and ``y`` may
    stay on the CPU.

    Parameters
    ----------
    model
        Any classifier (see :mod:`cnnviz.classifier`).
    x
        ``(N, C, H, W)`` inputs in the model's input range.
    y
        ``(N,)`` integer labels.
    batch_size
        Images per forward pass.

    Returns
    -------
    loss, accuracy
        Floats; accuracy in percent (0-100).

    Examples
    --------
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    >>> _ = nn.init.zeros_(net[1].bias)
    >>> loss, accuracy = evaluate(net, torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 1]))
    >>> round(loss, 4), round(accuracy, 2)  # equal scores: chance; ties go to class 0
    (0.6931, 33.33)
    """
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty set")
    device, _ = model_placement(model)
    loss_sum, correct = 0.0, 0
    with eval_mode(model):
        for idx in batch_indices(len(x), batch_size):
            images, labels = x[idx].to(device), y[idx].to(device)
            scores = class_scores(model, images).float()
            loss_sum += F.cross_entropy(scores, labels, reduction="sum").item()
            correct += (scores.argmax(1) == labels).sum().item()
    return loss_sum / len(x), 100.0 * correct / len(x)


def random_shift(
    x: torch.Tensor, max_shift: int, generator: torch.Generator, background: float = -1.0
) -> torch.Tensor:
    """Translate each image of ``(N, C, H, W)`` by its own random offset in [-s, s] px.

    Uncovered pixels become ``background`` (the model's black: the low bound of its
    input range, -1 for the report's CNN). One gather for the whole batch; the offsets
    are drawn on the CPU from ``generator``, so a seed shifts alike on every device.

    Examples
    --------
    >>> image = torch.zeros(1, 3, 4, 4)
    >>> shifted = random_shift(image, 1, torch.Generator().manual_seed(0), background=-1.0)
    >>> tuple(shifted.shape), bool((shifted == -1.0).any())
    ((1, 3, 4, 4), True)
    """
    if max_shift == 0:
        return x
    n, channels, height, width = x.shape
    padded = F.pad(x, [max_shift] * 4, value=background).flatten(0, 1)  # one image per channel
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator).to(x.device)
    if channels > 1:  # every channel of an image moves alike
        dy, dx = dy.repeat_interleave(channels, 0), dx.repeat_interleave(channels, 0)
    rows = (dy + torch.arange(height, device=x.device)).unsqueeze(2)
    cols = (dx + torch.arange(width, device=x.device)).unsqueeze(1)
    planes = torch.arange(n * channels, device=x.device).view(-1, 1, 1)
    return padded[planes, rows, cols].view(n, channels, height, width)


def _make_optimizer(
    model: nn.Module, recipe: Recipe, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """SGD or Adam and (for ``onecycle``) its per-step learning-rate schedule."""
    if recipe.optimizer == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
        )
    elif recipe.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', not {recipe.optimizer!r}")
    if recipe.schedule == "constant":
        return optimizer, None
    if recipe.schedule == "onecycle":
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=0.25
        )
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def _adversarial_batch(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, seed: int
) -> torch.Tensor:
    """``x`` replaced by PGD-``steps`` images within ``eps`` pixels, from a random start."""
    if eps <= 0:
        return x
    step_size = 1.25 * eps if steps == 1 else 2.5 * eps / steps
    return pgd(model, x, y, eps=eps, steps=steps, step_size=step_size, seed=seed).images


def _training_loss(
    scores: torch.Tensor, labels: torch.Tensor, clean_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scores of the trained-on batch and the loss.

    ``scores`` is ``(N, K)``, or with ``clean_weight > 0`` ``(2N, K)``: the attacked batch,
    then the same batch clean; the loss weighs their cross-entropies ``1 - clean_weight``
    and ``clean_weight``, and the attacked half's scores are returned.
    """
    if clean_weight <= 0:
        return scores, F.cross_entropy(scores, labels)
    attacked, clean = scores.chunk(2)
    loss = (1 - clean_weight) * F.cross_entropy(attacked, labels)
    return attacked, loss + clean_weight * F.cross_entropy(clean, labels)


def _add_noise(
    x: torch.Tensor, mean: float, std: float, generator: torch.Generator, bounds: Bounds
) -> torch.Tensor:
    """``x`` plus seeded N(``mean``, ``std``) noise in pixel units, clipped to ``bounds``."""
    low, high = bounds
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return (x + pixel_scale(bounds) * (mean + std * noise)).clamp(low, high)


def _add_salt(
    x: torch.Tensor, share: float, generator: torch.Generator, bounds: Bounds
) -> torch.Tensor:
    """``x`` with a seeded random ``share`` of its pixels set to the top of ``bounds``."""
    if share <= 0:
        return x
    salted = torch.rand(x.shape, generator=generator, dtype=x.dtype) < share
    return x.masked_fill(salted, bounds[1])


def _robust_check(
    model: nn.Module, data: Splits, recipe: Recipe, history: History, step: int
) -> bool:
    """Per-epoch PGD validation of adversarial training; ``True`` if this epoch is the best.

    A tie goes to this epoch: a later one has trained longer, at a lower rate.
    """
    count = min(recipe.robust_val_size, len(data.val_x))
    accuracy = accuracy_under_attack(
        model,
        data.val_x[:count],
        data.val_y[:count],
        [recipe.adversarial_eps],
        attack="pgd",
        steps=recipe.robust_val_steps,
    )[0].item()
    best = max(history.robust_val_acc, default=-1.0)
    history.robust_val_step.append(step)
    history.robust_val_acc.append(accuracy)
    return accuracy >= best


def _collapsed(history: History) -> bool:
    """Catastrophic overfitting: robust accuracy fell below half its best so far."""
    return history.robust_val_acc[-1] < 0.5 * max(history.robust_val_acc)


def _model_name(model: nn.Module) -> str:
    """The report CNN's variant (``bn``/``nobn``), else the model's class name."""
    return getattr(model, "variant", type(model).__name__)


def train(
    model: nn.Module | Callable[[], nn.Module],
    data: Splits,
    recipe: str | Recipe = "fast",
    *,
    epochs: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    tensorboard_dir: str | Path | None = None,
    should_stop: Callable[[History], bool] | None = None,
    callbacks: Sequence[Callable[[Progress], bool]] = (),
) -> tuple[nn.Module, History]:
    """Train a classifier with SGD on the cross-entropy of its class scores (R3).

    Parameters
    ----------
    model
        Any classifier (:mod:`cnnviz.classifier`), trained in place; or a function
        without arguments that builds one (a class such as ``CNN``, a
        ``functools.partial``), called after seeding so that ``seed`` also fixes the
        initial weights.
    data
        In-memory splits from :func:`cnnviz.data.load_splits`, in the model's input
        range, on the CPU (each batch is moved to ``device``).
    recipe
        ``"fast"``, ``"report"`` or a :class:`Recipe`.
    epochs
        Override the recipe's number of epochs.
    seed
        Seeds torch's global generator (initial weights of a built model, dropout),
        the shuffling and the augmentation: the same seed gives the same history on
        the same machine.
    device
        Where to train; default CUDA when available, else the CPU. The model is moved
        there and stays there.
    progress
        Show a tqdm bar with the live loss and accuracy.
    tensorboard_dir
        Also log to TensorBoard there, with the report's tags (``Loss/train``, ...).
    should_stop
        Called with the history after every validation; returning ``True`` ends training
        early (the test set is still evaluated).
    callbacks
        Each is called with a :class:`~cnnviz.progress.Progress` after every step (the
        progress bar and TensorBoard logging are two such); one returning ``True`` ends
        training after that step, keeping what the model learned (the test set is
        still evaluated). Call from another thread's callback to stop a run there.

    Returns
    -------
    model, history
        The trained model, in eval mode on ``device``, and the :class:`History` with the
        test results. Random shifts fill with the low end of the model's input range
        (:func:`cnnviz.classifier.input_bounds`).

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.data import Splits
    >>> x, y = torch.rand(40, 1, 6, 6), torch.arange(40) % 2
    >>> data = Splits(x[:24], y[:24], x[24:32], y[24:32], x[32:], y[32:], num_classes=2)
    >>> recipe = Recipe("tiny", epochs=1, batch_size=8, lr=0.1, momentum=0.9, max_shift=1)
    >>> net, history = train(
    ...     lambda: nn.Sequential(nn.Flatten(), nn.Linear(36, 2)), data, recipe,
    ...     device="cpu", progress=False)
    >>> history.step, history.variant, 0 <= history.test_acc <= 100
    ([1, 2, 3], 'Sequential', True)
    """
    recipe = get_recipe(recipe, epochs)
    device = resolve_device(device)
    torch.manual_seed(seed)
    if not isinstance(model, nn.Module):
        model = model()
    model.to(device)
    bounds = input_bounds(model)
    background = bounds[0]
    shuffle = torch.Generator().manual_seed(seed)
    augment = torch.Generator().manual_seed(seed + 1)
    steps_per_epoch = -(-len(data.train_x) // recipe.batch_size)
    total_steps = steps_per_epoch * recipe.epochs
    optimizer, scheduler = _make_optimizer(model, recipe, total_steps)
    precision = resolve_precision(recipe.precision, device)
    layout = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    name = _model_name(model)
    history = History(variant=name, recipe=asdict(recipe), seed=seed, precision=precision)
    bar = ProgressBar(total_steps, f"train {name}/{recipe.name}", show=progress)
    owned = [bar, *([TensorBoardLog(tensorboard_dir)] if tensorboard_dir else [])]
    listeners = [*owned, *callbacks]
    step, samples, train_seconds, stop = 0, 0, 0.0, False
    adversarial = recipe.adversarial_eps > 0
    clean_weight = recipe.clean_weight if adversarial else 0.0
    warmup_steps = max(1.0, recipe.eps_warmup_epochs * steps_per_epoch)
    val_x, val_y = data.val_x[: recipe.val_size or None], data.val_y[: recipe.val_size or None]
    averaged = WeightAverage(model, recipe.weight_average) if recipe.weight_average else None
    judged = model if averaged is None else averaged.model  # what validation sees
    kept = None
    try:
        for epoch in range(1, recipe.epochs + 1):
            model.train()
            for idx in batch_indices(len(data.train_x), recipe.batch_size, generator=shuffle):
                started = time.perf_counter()
                x = random_shift(data.train_x[idx], recipe.max_shift, augment, background)
                clean = _add_salt(x, recipe.clean_salt, augment, bounds) if clean_weight else x
                if recipe.noise_std > 0:
                    x = _add_noise(x, recipe.noise_mean, recipe.noise_std, augment, bounds)
                x = x.to(device).contiguous(memory_format=layout)
                y = data.train_y[idx].to(device)
                if adversarial:
                    eps = recipe.adversarial_eps * min(1.0, (step + 1) / warmup_steps)
                    x = _adversarial_batch(model, x, y, eps, recipe.adversarial_steps, step)
                    if clean_weight > 0:
                        x = torch.cat([x, clean.to(device)]).contiguous(memory_format=layout)
                with torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16"):
                    scores = class_scores(model, x)
                scores, loss = _training_loss(scores.float(), y, clean_weight)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                if averaged is not None:
                    averaged.update(model)
                train_seconds += time.perf_counter() - started
                step += 1
                samples += len(idx)
                accuracy = 100.0 * (scores.argmax(1) == y).float().mean().item()
                history.step.append(step)
                history.train_loss.append(loss.item())
                history.train_acc.append(accuracy)
                val_loss = val_acc = None
                if step % recipe.val_every == 0 or step % steps_per_epoch == 0:
                    val_loss, val_acc = evaluate(judged, val_x, val_y)
                    history.val_step.append(step)
                    history.val_loss.append(val_loss)
                    history.val_acc.append(val_acc)
                    history.val_seconds.append(train_seconds)
                    stop = should_stop is not None and should_stop(history)
                report = Progress(
                    step,
                    total_steps,
                    epoch,
                    recipe.epochs,
                    loss.item(),
                    accuracy,
                    val_loss,
                    val_acc,
                    samples,
                    train_seconds,
                )
                stop = any([listener(report) for listener in listeners]) or stop
                if stop:
                    break
            history.epoch_steps.append(step)
            if adversarial:
                if _robust_check(judged, data, recipe, history, step):
                    kept = {name: value.clone() for name, value in judged.state_dict().items()}
                    history.kept_step = step
                bar.note(robust_val_acc=f"{history.robust_val_acc[-1]:.1f}%")
                stop = stop or _collapsed(history)
            if stop:
                break
    finally:
        for listener in owned:
            listener.close()
    history.train_seconds = train_seconds
    history.samples_per_second = samples / max(train_seconds, 1e-9)
    if kept is not None:
        model.load_state_dict(kept)
    elif averaged is not None:
        model.load_state_dict(averaged.model.state_dict())
    if recipe.finish is not None and not stop:  # the finish measures the test set
        model, finished = train(
            model,
            data,
            recipe.finish,
            seed=seed,
            device=device,
            progress=progress,
            tensorboard_dir=Path(tensorboard_dir) / recipe.finish.name if tensorboard_dir else None,
            should_stop=should_stop,
            callbacks=callbacks,
        )
        return model, history.followed_by(finished)
    # measured in the training layout (channels-last: about twice as fast on a CPU)
    history.test_loss, history.test_acc = evaluate(model, data.test_x, data.test_y, 250)
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, history


def _training_key(recipe: Recipe, data: Splits, device: str | torch.device = "cpu") -> str:
    """12 hex digits naming a training setup: recipe settings, versions, precision and data.

    The precision is the one ``recipe.precision`` resolves to on ``device`` (an ``"auto"``
    recipe trains in bf16 or fp32, see :func:`resolve_precision`). The data enter through
    their shapes, all labels and every 97th training image, so another dataset or split
    gives another key without hashing 170 MB each time.
    """
    precision = resolve_precision(recipe.precision, device)
    versions = f"{recipe!r}|{__version__}|{torch.__version__}|{precision}"
    digest = hashlib.sha256(versions.encode())
    for tensor in (data.train_y, data.val_y, data.test_y, data.train_x[::97]):
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def cached_train(
    data: Splits,
    *,
    batchnorm: bool,
    recipe: str = "fast",
    epochs: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    device: str | torch.device | None = None,
) -> tuple[CNN, History]:
    """Train the report's CNN once per (variant, recipe, epochs, seed, data), then cached.

    The checkpoint and its history are kept in ``cache_dir`` (default: the user cache,
    ``checkpoints/``), written atomically, and loaded safely on the next call; the gallery
    uses this so that examples share a training run instead of repeating it. The file
    name carries a key of everything else that shapes the result (the recipe's settings,
    the precision it resolves to, the cnnviz and torch versions, the data), so a change to
    any of them trains afresh instead of returning a stale model.

    Parameters
    ----------
    data
        As for :func:`train` (inputs ``(N, 1, 28, 28)`` in [-1, 1]).
    batchnorm
        Which variant of the report's CNN.
    recipe, epochs, seed, progress, device
        As for :func:`train`; the model is returned on ``device``.
    cache_dir
        Folder of the cached checkpoints.

    Returns
    -------
    model, history
        As :func:`train`.

    Examples
    --------
    >>> import tempfile
    >>> from cnnviz.data import Splits
    >>> x, y = torch.rand(48, 1, 28, 28) * 2 - 1, torch.arange(48) % 10
    >>> data = Splits(x[:32], y[:32], x[32:40], y[32:40], x[40:], y[40:])
    >>> folder = tempfile.mkdtemp()
    >>> model, first = cached_train(data, batchnorm=False, epochs=1, cache_dir=folder)
    >>> model, again = cached_train(data, batchnorm=False, epochs=1, cache_dir=folder)
    >>> again == first, len(list(Path(folder).iterdir()))
    (True, 2)
    """
    chosen = get_recipe(recipe, epochs)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "checkpoints"
    variant = "bn" if batchnorm else "nobn"
    key = _training_key(chosen, data, resolve_device(device))
    path = folder / f"cnn_{variant}-{chosen.name}-{chosen.epochs}ep-seed{seed}-{key}.safetensors"
    if path.is_file() and history_path(path).is_file():
        model = load_checkpoint(path)[0].to(resolve_device(device))
        return model, History.from_json(history_path(path))
    model, history = train(
        lambda: CNN(batchnorm=batchnorm, num_classes=data.num_classes),
        data,
        chosen,
        seed=seed,
        progress=progress,
        device=device,
    )
    save_checkpoint(model, path, history=history)
    return model, history
