"""Training (R3) and evaluation (R4) over in-memory tensors, with a recorded history."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from cnnviz.data import Splits, batch_indices
from cnnviz.model import CNN, eval_mode

#: The report's TensorBoard tags.
TB_TAGS = {
    "train_loss": "Loss/train",
    "train_acc": "Accuracy/train",
    "val_loss": "Loss/valid",
    "val_acc": "Accuracy/valid",
}

BACKGROUND = -1.0  # black in the model's input space


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
    precision
        ``"fp32"``; ``"bf16"``: bfloat16 autocast for the forward pass (weights and
        optimiser stay fp32); ``"auto"``: bf16 where the CPU has native bfloat16
        arithmetic (AVX512-BF16/AMX), else fp32.
    channels_last
        Keep convolution tensors in channels-last memory layout (faster on CPUs).
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
    precision: str = "fp32"
    channels_last: bool = False


#: ``report``: as the assignment (SGD lr 0.01, momentum 0.5, batch 64, 10 epochs).
#: ``fast``: our best on a 2-core CPU: larger batches, one-cycle schedule, Nesterov
#: momentum, weight decay, +-2 px random shifts, bf16 autocast where the CPU has it and
#: channels-last layout.
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
}


def resolve_precision(precision: str) -> str:
    """``"fp32"`` or ``"bf16"``: what ``precision`` (maybe ``"auto"``) means on this CPU."""
    if precision == "auto":
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32', 'bf16' or 'auto', not {precision!r}")
    return precision


def get_recipe(recipe: str | Recipe, epochs: int | None = None) -> Recipe:
    """A recipe by name (see :data:`RECIPES`), optionally with another number of epochs."""
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
        recipe = RECIPES[recipe]
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be positive, not {epochs}")
        recipe = replace(recipe, epochs=epochs)
    return recipe


@dataclass
class History:
    """Everything a training run measured; accuracies are percentages (0-100).

    Per step (``step``, 1-based): ``train_loss``, ``train_acc`` of that batch.
    Per validation: ``val_step``, ``val_loss``, ``val_acc``, and ``val_seconds``, the
    training time (validation excluded) spent up to that point.
    ``epoch_steps``: the step that ended each epoch.
    """

    variant: str
    recipe: dict
    seed: int
    precision: str = "fp32"
    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    val_seconds: list[float] = field(default_factory=list)
    epoch_steps: list[int] = field(default_factory=list)
    test_loss: float | None = None
    test_acc: float | None = None
    train_seconds: float = 0.0
    samples_per_second: float = 0.0

    def to_json(self, path: str | Path) -> None:
        """Write the history as JSON (atomically: a reader never sees half a file)."""
        path = Path(path)
        temporary = path.with_name(f".{path.name}.part")
        temporary.write_text(json.dumps(asdict(self), indent=1))
        os.replace(temporary, path)

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        """Read a history written by :meth:`to_json`."""
        return cls(**json.loads(Path(path).read_text()))


@torch.no_grad()
def evaluate(
    model: CNN, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000
) -> tuple[float, float]:
    """Mean negative log-likelihood and accuracy (%) of ``model`` on ``(x, y)``.

    Runs in eval mode (batch norm uses its running statistics); the model's mode is
    restored afterwards.

    Parameters
    ----------
    x
        ``(N, 1, 28, 28)`` inputs in [-1, 1].
    y
        ``(N,)`` integer labels.
    """
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty set")
    loss_sum, correct = 0.0, 0
    with eval_mode(model):
        for idx in batch_indices(len(x), batch_size):
            log_probs = model(x[idx])
            loss_sum += F.nll_loss(log_probs, y[idx], reduction="sum").item()
            correct += (log_probs.argmax(1) == y[idx]).sum().item()
    return loss_sum / len(x), 100.0 * correct / len(x)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of ``(N, 1, H, W)`` by its own random offset in [-s, s] px.

    Uncovered pixels become background (-1). One gather for the whole batch.
    """
    if max_shift == 0:
        return x
    n, _, height, width = x.shape
    padded = F.pad(x, [max_shift] * 4, value=BACKGROUND)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator)
    rows = (dy + torch.arange(height)).unsqueeze(2)
    cols = (dx + torch.arange(width)).unsqueeze(1)
    batch = torch.arange(n).view(n, 1, 1)
    return padded[batch, 0, rows, cols].unsqueeze(1)


def make_optimizer(
    model: CNN, recipe: Recipe, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """SGD and (for ``onecycle``) its per-step learning-rate schedule."""
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )
    if recipe.schedule == "constant":
        return optimizer, None
    if recipe.schedule == "onecycle":
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=0.25
        )
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def open_tensorboard(log_dir: str | Path | None):
    """A TensorBoard ``SummaryWriter`` for ``log_dir``, or ``None`` when not asked for."""
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError(
            "TensorBoard logging needs the tensorboard package: pip install 'cnnviz[tensorboard]'"
        ) from error
    return SummaryWriter(log_dir=str(log_dir))


def train(
    data: Splits,
    *,
    batchnorm: bool = True,
    recipe: str | Recipe = "fast",
    epochs: int | None = None,
    seed: int = 0,
    model: CNN | None = None,
    progress: bool = True,
    tensorboard_dir: str | Path | None = None,
    should_stop: Callable[[History], bool] | None = None,
) -> tuple[CNN, History]:
    """Train the report's CNN with SGD on negative log-likelihood (R3).

    Parameters
    ----------
    data
        In-memory splits from :func:`cnnviz.data.load_splits`.
    batchnorm
        Which variant to build (ignored when ``model`` is given).
    recipe
        ``"fast"``, ``"report"`` or a :class:`Recipe`.
    epochs
        Override the recipe's number of epochs.
    seed
        Seeds the initial weights, the shuffling and the augmentation: the same seed gives
        the same history on the same machine.
    model
        Train this model instead of a new one.
    progress
        Show a tqdm bar with the live loss and accuracy.
    tensorboard_dir
        Also log to TensorBoard there, with the report's tags (``Loss/train``, ...).
    should_stop
        Called with the history after every validation; returning ``True`` ends training
        early (the test set is still evaluated).

    Returns
    -------
    model, history
        The trained model, in eval mode, and the :class:`History` with the test results.
    """
    recipe = get_recipe(recipe, epochs)
    torch.manual_seed(seed)
    if model is None:
        model = CNN(batchnorm=batchnorm, num_classes=data.num_classes)
    shuffle = torch.Generator().manual_seed(seed)
    augment = torch.Generator().manual_seed(seed + 1)
    steps_per_epoch = -(-len(data.train_x) // recipe.batch_size)
    total_steps = steps_per_epoch * recipe.epochs
    optimizer, scheduler = make_optimizer(model, recipe, total_steps)
    precision = resolve_precision(recipe.precision)
    layout = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    history = History(variant=model.variant, recipe=asdict(recipe), seed=seed, precision=precision)
    writer = open_tensorboard(tensorboard_dir)
    bar = tqdm(total=total_steps, desc=f"train {model.variant}/{recipe.name}", disable=not progress)
    step, samples, train_seconds, stop = 0, 0, 0.0, False
    try:
        for _ in range(recipe.epochs):
            model.train()
            for idx in batch_indices(len(data.train_x), recipe.batch_size, generator=shuffle):
                started = time.perf_counter()
                x = random_shift(data.train_x[idx], recipe.max_shift, augment)
                x = x.contiguous(memory_format=layout)
                y = data.train_y[idx]
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    log_probs = model(x)
                loss = F.nll_loss(log_probs.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                train_seconds += time.perf_counter() - started
                step += 1
                samples += len(idx)
                accuracy = 100.0 * (log_probs.argmax(1) == y).float().mean().item()
                history.step.append(step)
                history.train_loss.append(loss.item())
                history.train_acc.append(accuracy)
                log_scalars(writer, step, train_loss=loss.item(), train_acc=accuracy)
                bar.update()
                end_of_epoch = step % steps_per_epoch == 0
                if step % recipe.val_every == 0 or end_of_epoch:
                    val_loss, val_acc = evaluate(model, data.val_x, data.val_y)
                    history.val_step.append(step)
                    history.val_loss.append(val_loss)
                    history.val_acc.append(val_acc)
                    history.val_seconds.append(train_seconds)
                    log_scalars(writer, step, val_loss=val_loss, val_acc=val_acc)
                    bar.set_postfix(loss=f"{loss.item():.3f}", val_acc=f"{val_acc:.2f}%")
                    if should_stop is not None and should_stop(history):
                        stop = True
                        break
            history.epoch_steps.append(step)
            if stop:
                break
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    history.train_seconds = train_seconds
    history.samples_per_second = samples / max(train_seconds, 1e-9)
    model.to(memory_format=torch.contiguous_format)
    history.test_loss, history.test_acc = evaluate(model, data.test_x, data.test_y)
    model.eval()
    return model, history


def log_scalars(writer, step: int, **values: float) -> None:
    """Write ``values`` to TensorBoard under the report's tags (no-op without a writer)."""
    if writer is None:
        return
    for key, value in values.items():
        writer.add_scalar(TB_TAGS[key], value, step)
