"""Training (R3) and evaluation (R4) of any classifier over in-memory tensors, on any device.

Works on every model of the contract in :mod:`cnnviz.core.classifier` (class scores from
``logits`` where the model has it, else ``forward``; input range from ``input_bounds``),
trained with SGD on the cross-entropy of its class scores. :func:`cached_train` trains the
report's CNN once per setup and keeps the result on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.attacks.pgd import pgd
from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import class_scores, input_bounds
from cnnviz.data.mnist import Splits
from cnnviz.training.augment import _add_noise, _add_salt, random_shift
from cnnviz.training.averaging import WeightAverage
from cnnviz.training.device import resolve_device, resolve_precision
from cnnviz.training.evaluation import evaluate
from cnnviz.training.history import History
from cnnviz.training.progress import Progress, ProgressBar, TensorBoardLog
from cnnviz.training.recipe import Recipe, get_recipe


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
        Any classifier (:mod:`cnnviz.core.classifier`), trained in place; or a function
        without arguments that builds one (a class such as ``CNN``, a
        ``functools.partial``), called after seeding so that ``seed`` also fixes the
        initial weights.
    data
        In-memory splits from :func:`cnnviz.data.mnist.load_splits`, in the model's input
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
        Each is called with a :class:`~cnnviz.training.progress.Progress` after every step (the
        progress bar and TensorBoard logging are two such); one returning ``True`` ends
        training after that step, keeping what the model learned (the test set is
        still evaluated). Call from another thread's callback to stop a run there.

    Returns
    -------
    model, history
        The trained model, in eval mode on ``device``, and the :class:`History` with the
        test results. Random shifts fill with the low end of the model's input range
        (:func:`cnnviz.core.classifier.input_bounds`).

    Examples
    --------
    >>> from torch import nn
    >>> from cnnviz.data.mnist import Splits
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
