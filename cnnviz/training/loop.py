"""The training loop: :func:`~cnnviz.training.loop.train`, a short loop over small named steps.

A run is one or more phases: the recipe, then its ``finish`` recipe (if any), and so on. Each
phase is set up afresh (seed, model placement, generators: ``_Phase``), then every step
makes a batch (:func:`cnnviz.training.augment.make_batch`), attacks it for adversarial
training (:class:`cnnviz.training.adversarial.AdversarialBatch`), takes one optimiser step
(:class:`cnnviz.training.step.OptimiserStep`, bf16 autocast where asked), updates the weight
average (:class:`cnnviz.training.averaging.WeightAverage`), validates when due and keeps the
best epoch (:class:`cnnviz.training.validation.Validation`), and reports a
:class:`~cnnviz.training.progress.Progress` to the callbacks, any of which may stop the run.
Works on every model of the contract in :mod:`cnnviz.core.classifier` (class scores from
``logits`` where the model has it, else ``forward``; input range from ``input_bounds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from cnnviz.core.batching import batch_indices
from cnnviz.core.classifier import input_bounds
from cnnviz.data.mnist import Splits
from cnnviz.training.adversarial import AdversarialBatch
from cnnviz.training.augment import make_batch
from cnnviz.training.averaging import WeightAverage
from cnnviz.training.device import resolve_device, resolve_precision
from cnnviz.training.evaluation import evaluate
from cnnviz.training.history import History
from cnnviz.training.progress import Progress, ProgressBar, TensorBoardLog
from cnnviz.training.recipe import Recipe, get_recipe
from cnnviz.training.step import OptimiserStep
from cnnviz.training.validation import Validation

Callback = Callable[[Progress], bool]


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
    callbacks: Sequence[Callback] = (),
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
        ``"fast"``, ``"report"``, ``"robust"`` or a :class:`~cnnviz.training.recipe.Recipe`; its
        ``finish`` recipe (if any) goes on training the same model afterwards, with the same seed,
        and its history continues this one's.
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
    callbacks
        The one way to watch and stop a run: each is called with a
        :class:`~cnnviz.training.progress.Progress` after every step (the progress bar and
        TensorBoard logging are two such); one returning ``True`` ends training after that
        step, keeping what the model learned (no finishing recipe follows; the test set is
        still evaluated). To stop when the validation accuracy reaches 99 %:
        ``lambda p: p.measured and p.val_acc >= 99``; to stop from another thread, return
        a flag that thread sets.

    Returns
    -------
    model, history
        The trained model, in eval mode on ``device``, and the
        :class:`~cnnviz.training.history.History` with the test results. Random shifts fill with the
        low end of the model's input range (:func:`cnnviz.core.classifier.input_bounds`).

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
    phase, log_dir = get_recipe(recipe, epochs), tensorboard_dir
    device = resolve_device(device)
    history = None
    while phase is not None:  # the recipe, its finish, the finish's finish...: a finite chain
        model, done, stopped = _train_phase(
            model, data, phase, seed=seed, device=device, progress=progress, log_dir=log_dir,
            callbacks=callbacks,
        )  # fmt: skip
        history = done if history is None else history.followed_by(done)
        phase = None if stopped else phase.finish
        log_dir = Path(log_dir) / phase.name if log_dir and phase is not None else None
    # measured in the training layout (channels-last: about twice as fast on a CPU)
    history.test_loss, history.test_acc = evaluate(model, data.test_x, data.test_y, 250)
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, history


def _train_phase(
    model: nn.Module | Callable[[], nn.Module],
    data: Splits,
    recipe: Recipe,
    *,
    seed: int,
    device: torch.device,
    progress: bool,
    log_dir: str | Path | None,
    callbacks: Sequence[Callback],
) -> tuple[nn.Module, History, bool]:
    """Train with ``recipe``'s epochs (not its finish): the model, its history, whether stopped."""
    phase = _Phase(model, data, recipe, seed=seed, device=device)
    bar = ProgressBar(phase.total_steps, f"train {phase.history.variant}/{recipe.name}", progress)
    owned = [bar, *([TensorBoardLog(log_dir)] if log_dir else [])]
    listeners, stop = [*owned, *callbacks], False
    try:
        for epoch in range(1, recipe.epochs + 1):
            phase.model.train()
            for idx in batch_indices(len(data.train_x), recipe.batch_size, generator=phase.shuffle):
                report = phase.step(idx, epoch)
                stop = any([listener(report) for listener in listeners])  # all hear every step
                if stop:
                    break
            stop = phase.end_epoch() or stop
            if phase.validation.robust:
                bar.note(robust_val_acc=f"{phase.history.robust_val_acc[-1]:.1f}%")
            if stop:
                break
    finally:
        for listener in owned:
            listener.close()
    return phase.model, phase.done(), stop


class _Phase:
    """One recipe's run on one model: its setup, its step and its epoch's end.

    Setting up seeds torch's global generator with ``seed`` (then builds the model if
    given a builder), places the model on ``device`` in the recipe's memory layout, and
    seeds the shuffling (``seed``) and augmentation (``seed + 1``) generators.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[], nn.Module],
        data: Splits,
        recipe: Recipe,
        *,
        seed: int,
        device: torch.device,
    ) -> None:
        torch.manual_seed(seed)
        self.model = model if isinstance(model, nn.Module) else model()
        self.model.to(device)
        self.data, self.recipe, self.device = data, recipe, device
        self.bounds = input_bounds(self.model)
        self.shuffle = torch.Generator().manual_seed(seed)
        self.augment = torch.Generator().manual_seed(seed + 1)
        steps_per_epoch = -(-len(data.train_x) // recipe.batch_size)
        self.total_steps = steps_per_epoch * recipe.epochs
        precision = resolve_precision(recipe.precision, device)
        self.layout = torch.channels_last if recipe.channels_last else torch.contiguous_format
        self.adversarial = AdversarialBatch(
            recipe, steps_per_epoch=steps_per_epoch, layout=self.layout
        )
        self.optimise = OptimiserStep(
            self.model,
            recipe=recipe,
            total_steps=self.total_steps,
            precision=precision,
            device=device,
            clean_weight=self.adversarial.clean_weight,
        )
        self.model.to(memory_format=self.layout)
        self.average = (
            WeightAverage(self.model, recipe.weight_average) if recipe.weight_average else None
        )
        judged = self.model if self.average is None else self.average.model
        self.validation = Validation(data, recipe, judged=judged, steps_per_epoch=steps_per_epoch)
        name = getattr(self.model, "variant", type(self.model).__name__)  # bn/nobn, or class
        self.history = History(variant=name, recipe=asdict(recipe), seed=seed, precision=precision)
        self.steps, self.samples, self.seconds = 0, 0, 0.0

    def step(self, idx: torch.Tensor, epoch: int) -> Progress:
        """Train on the images ``idx``: batch, attack, update, average; then validate if due."""
        started = time.perf_counter()
        x, clean = make_batch(
            self.data.train_x[idx],
            recipe=self.recipe,
            generator=self.augment,
            bounds=self.bounds,
            clean_copy=self.adversarial.clean_weight > 0,
        )
        x = x.to(self.device).contiguous(memory_format=self.layout)
        y = self.data.train_y[idx].to(self.device)
        x = self.adversarial(self.model, x, clean, y, step=self.steps)
        scores, loss = self.optimise(self.model, x, y)
        if self.average is not None:
            self.average.update(self.model)
        self.seconds += time.perf_counter() - started
        self.steps += 1
        self.samples += len(idx)
        accuracy = 100.0 * (scores.argmax(1) == y).float().mean().item()
        self.history.step.append(self.steps)
        self.history.train_loss.append(loss.item())
        self.history.train_acc.append(accuracy)
        val_loss, val_acc = self.validation.after_step(
            self.history, step=self.steps, seconds=self.seconds
        )
        return Progress(
            self.steps,
            self.total_steps,
            epoch,
            self.recipe.epochs,
            loss.item(),
            accuracy,
            val_loss,
            val_acc,
            self.samples,
            self.seconds,
        )

    def end_epoch(self) -> bool:
        """Close the epoch (robust check, best epoch kept); whether robustness collapsed."""
        return self.validation.end_epoch(self.history, step=self.steps)

    def done(self) -> History:
        """The phase's history with its speed; the model holds the weights to return."""
        self.history.train_seconds = self.seconds
        self.history.samples_per_second = self.samples / max(self.seconds, 1e-9)
        self.validation.keep_best(self.model)
        return self.history
