"""What training reports after every step, and the listeners that show or log it.

:func:`cnnviz.training.loop.train` calls each of its ``callbacks`` with a :class:`Progress`
after every optimisation step; a callback that returns ``True`` stops training there
(the model keeps what it learned and the test set is still evaluated). The command
line's progress bar (:class:`ProgressBar`) and TensorBoard logging
(:class:`TensorBoardLog`) are such callbacks; so is the app's live view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

#: The report's TensorBoard tags.
TB_TAGS = {
    "train_loss": "Loss/train",
    "train_acc": "Accuracy/train",
    "val_loss": "Loss/valid",
    "val_acc": "Accuracy/valid",
}


@dataclass(frozen=True)
class Progress:
    """One optimisation step, as training reports it. Accuracies are percentages.

    Attributes
    ----------
    step, total_steps
        Steps done (1-based) and planned.
    epoch, epochs
        The epoch this step belongs to (1-based) and how many are planned.
    train_loss, train_acc
        Cross-entropy and accuracy of this step's batch (before the update).
    val_loss, val_acc
        On the validation set, when it was measured after this step, else ``None``.
    samples
        Training images seen so far.
    seconds
        Training time so far, validation excluded.

    Examples
    --------
    >>> p = Progress(50, 200, 1, 2, 0.31, 91.4, None, None, 6400, 2.5)
    >>> p.samples_per_second, p.seconds_left, p.measured
    (2560.0, 7.5, False)
    """

    step: int
    total_steps: int
    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    samples: int
    seconds: float

    @property
    def measured(self) -> bool:
        """Whether the validation set was measured after this step."""
        return self.val_acc is not None

    @property
    def samples_per_second(self) -> float:
        """Training throughput so far."""
        return self.samples / max(self.seconds, 1e-9)

    @property
    def seconds_left(self) -> float:
        """Training time still to go at the pace so far (validation excluded)."""
        return self.seconds / max(self.step, 1) * (self.total_steps - self.step)


class ProgressBar:
    """A tqdm bar over the steps, with the last loss and validation accuracy.

    Examples
    --------
    >>> bar = ProgressBar(total=2, description="train", show=False)
    >>> bar(Progress(1, 2, 1, 1, 0.5, 80.0, 0.4, 85.0, 32, 0.1))
    False
    >>> bar.postfix
    {'loss': '0.500', 'val_acc': '85.00%'}
    >>> bar.close()
    """

    def __init__(self, total: int, description: str, show: bool = True) -> None:
        self.bar = tqdm(total=total, desc=description, disable=not show)
        self.postfix: dict[str, str] = {}

    def __call__(self, progress: Progress) -> bool:
        self.bar.update()
        if progress.measured:
            self.note(loss=f"{progress.train_loss:.3f}", val_acc=f"{progress.val_acc:.2f}%")
        return False

    def note(self, **values: str) -> None:
        """Show ``values`` after the count (kept until replaced)."""
        self.postfix.update(values)
        self.bar.set_postfix(self.postfix)

    def close(self) -> None:
        self.bar.close()


class TensorBoardLog:
    """Every step's training loss and accuracy, and each validation, under the report's tags.

    Needs the ``tensorboard`` package (``pip install 'cnnviz[tensorboard]'``).

    Examples
    --------
    >>> import tempfile
    >>> log = TensorBoardLog(tempfile.mkdtemp())
    >>> log(Progress(1, 2, 1, 1, 0.5, 80.0, 0.4, 85.0, 32, 0.1))
    False
    >>> log.close()
    """

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                "TensorBoard logging needs the tensorboard package: "
                "pip install 'cnnviz[tensorboard]'"
            ) from error
        self.writer = SummaryWriter(log_dir=str(log_dir))

    def __call__(self, progress: Progress) -> bool:
        values = {"train_loss": progress.train_loss, "train_acc": progress.train_acc}
        if progress.measured:
            values |= {"val_loss": progress.val_loss, "val_acc": progress.val_acc}
        for key, value in values.items():
            self.writer.add_scalar(TB_TAGS[key], value, progress.step)
        return False

    def close(self) -> None:
        self.writer.close()
