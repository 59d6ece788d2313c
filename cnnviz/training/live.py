"""Training you can watch and stop: :func:`cnnviz.training.loop.train` in a background thread.

A :class:`LiveRun` trains one model while the caller reads its
:class:`~cnnviz.training.progress.Progress` reports as they arrive (``reports``), looks at the model
as it learns, and may stop it at any moment (``stop``: training ends after the current step, the
model keeps what it learned, and the test set is still measured). :func:`race` starts two runs on
the same batches in the same order: the report's batch-norm comparison, live. Framework-free: the
app's Train tab polls these.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnviz.data.mnist import Splits
from cnnviz.models.cnn import CNN
from cnnviz.training.history import History
from cnnviz.training.loop import train
from cnnviz.training.progress import Progress
from cnnviz.training.recipe import Recipe


@dataclass
class LiveRun:
    """One model trained in a background thread; its progress readable as it goes.

    Build with :meth:`start`. Attributes are written by the training thread and read by
    any other: ``reports`` only grows, ``history`` and ``error`` are set once at the end.

    Attributes
    ----------
    model
        The model being trained (in training mode until done).
    recipe
        What it is trained with.
    reports
        Every step's :class:`~cnnviz.training.progress.Progress`, in order.
    wall
        Seconds from the start to each report (validation and waiting included).
    history
        The finished run's :class:`~cnnviz.training.history.History` (with the test accuracy),
        ``None`` until done.
    error
        What stopped the thread if training failed, else ``None``.
    started
        ``time.monotonic()`` when the run was started.

    Examples
    --------
    >>> from cnnviz.data.mnist import Splits
    >>> from cnnviz.training.recipe import Recipe
    >>> x, y = torch.rand(64, 1, 28, 28) * 2 - 1, torch.arange(64) % 10
    >>> data = Splits(x[:48], y[:48], x[48:56], y[48:56], x[56:], y[56:])
    >>> run = LiveRun.start(CNN(), data, Recipe("tiny", 2, 16, 0.05, 0.9))
    >>> run.wait(60)
    True
    >>> len(run.reports), run.reports[-1].step, run.history.test_acc is not None
    (6, 6, True)
    """

    model: nn.Module
    recipe: Recipe
    reports: list[Progress] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    history: History | None = None
    error: BaseException | None = None
    started: float = field(default_factory=time.monotonic)
    _stop: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(
        cls,
        model: nn.Module,
        data: Splits,
        recipe: Recipe,
        *,
        seed: int = 0,
        threads: int = 1,
    ) -> LiveRun:
        """Start training ``model`` (in place) on ``data`` with ``recipe``; return at once.

        Parameters
        ----------
        model
            Any classifier (:mod:`cnnviz.core.classifier`), on the CPU.
        data, recipe, seed
            As for :func:`cnnviz.training.loop.train` (no progress bar).
        threads
            torch threads of the training thread (set for that thread only).
        """
        run = cls(model, recipe)

        def listen(progress: Progress) -> bool:
            run.wall.append(time.monotonic() - run.started)
            run.reports.append(progress)
            return run._stop.is_set()

        def work() -> None:
            torch.set_num_threads(threads)
            try:
                _, run.history = train(
                    model, data, recipe, seed=seed, device="cpu", progress=False,
                    callbacks=[listen],
                )  # fmt: skip
            except BaseException as error:
                run.error = error
            finally:
                run._done.set()

        threading.Thread(target=work, name=f"cnnviz-train-{recipe.name}", daemon=True).start()
        return run

    def stop(self) -> None:
        """Ask training to end after the current step (it keeps what it learned)."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        """Whether the thread finished (trained, stopped or failed)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done or ``timeout`` seconds passed; whether it is done."""
        return self._done.wait(timeout)

    def first_reaching(self, val_acc: float) -> tuple[int, float] | None:
        """The first step whose validation accuracy reached ``val_acc`` (%), and the
        wall seconds from the start to it; ``None`` if none has yet."""
        for progress, seconds in zip(list(self.reports), list(self.wall), strict=False):
            if progress.measured and progress.val_acc >= val_acc:
                return progress.step, seconds
        return None


def race(data: Splits, recipe: Recipe, *, seed: int = 0, threads: int = 1) -> dict[str, LiveRun]:
    """The report's CNN with and without batch norm, trained at once on the same batches.

    Both start from the same seed: the same shuffling and shifts, so the same batches
    in the same order; each runs in its own thread.

    Returns
    -------
    dict
        ``{"batch norm": run, "no batch norm": run}``, both started.

    Examples
    --------
    >>> from cnnviz.data.mnist import Splits
    >>> from cnnviz.training.recipe import Recipe
    >>> x, y = torch.rand(64, 1, 28, 28) * 2 - 1, torch.arange(64) % 10
    >>> data = Splits(x[:48], y[:48], x[48:56], y[48:56], x[56:], y[56:])
    >>> runs = race(data, Recipe("tiny", 1, 16, 0.05, 0.9))
    >>> [run.wait(60) and len(run.reports) for run in runs.values()]
    [3, 3]
    """
    models = {}
    for name, batchnorm in (("batch norm", True), ("no batch norm", False)):
        torch.manual_seed(seed)  # before any thread starts: the global generator is shared
        models[name] = CNN(batchnorm=batchnorm, num_classes=data.num_classes)
    return {
        name: LiveRun.start(model, data, recipe, seed=seed, threads=threads)
        for name, model in models.items()
    }
