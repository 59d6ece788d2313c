"""The record of a training run: what :func:`cnnviz.training.loop.train` measured, as JSON.

Its own module so that :mod:`cnnviz.models.checkpoint` (which stores histories beside weights)
and :mod:`cnnviz.training.loop` (which writes them) both use it without importing each other.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path


@dataclass
class History:
    """Everything a training run measured; accuracies are percentages (0-100).

    Per step (``step``, 1-based): ``train_loss``, ``train_acc`` of that batch.
    Per validation: ``val_step``, ``val_loss``, ``val_acc``, and ``val_seconds``, the
    training time (validation excluded) spent up to that point.
    ``epoch_steps``: the step that ended each epoch. Adversarial training adds, per epoch,
    ``robust_val_step`` and ``robust_val_acc`` (validation accuracy under its PGD check)
    and ``kept_step``, the step whose weights were kept (the most robust epoch).
    ``variant`` names the model: the report CNN's ``bn``/``nobn``, else its class name.

    Examples
    --------
    >>> import tempfile
    >>> history = History(variant="nobn", recipe={"name": "fast"}, seed=0, test_acc=99.1)
    >>> path = Path(tempfile.mkdtemp()) / "run.history.json"
    >>> history.to_json(path)
    >>> History.from_json(path) == history
    True
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
    robust_val_step: list[int] = field(default_factory=list)
    robust_val_acc: list[float] = field(default_factory=list)
    kept_step: int | None = None
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

    def followed_by(self, later: History) -> History:
        """This run, then ``later``: a run that went on training the same model.

        ``later``'s steps, validations, epochs and kept step are shifted to follow this
        run's last step, its validation times to follow this run's training time; the
        test results are ``later``'s, since its model is the one that remains.

        Examples
        --------
        >>> first = History("bn", {"name": "a"}, 0, step=[1, 2], train_loss=[0.5, 0.4],
        ...                 train_acc=[80.0, 90.0], epoch_steps=[2], train_seconds=2.0,
        ...                 samples_per_second=100.0, test_acc=90.0)
        >>> then = History("bn", {"name": "b"}, 0, step=[1], train_loss=[0.3],
        ...                train_acc=[95.0], epoch_steps=[1], kept_step=1, train_seconds=2.0,
        ...                samples_per_second=50.0, test_acc=95.0)
        >>> both = first.followed_by(then)
        >>> both.step, both.epoch_steps, both.kept_step, both.test_acc, both.samples_per_second
        ([1, 2, 3], [2, 3], 3, 95.0, 75.0)
        """
        offset = self.step[-1] if self.step else 0

        def shifted(steps: list[int]) -> list[int]:
            return [step + offset for step in steps]

        seconds = self.train_seconds + later.train_seconds
        samples = (
            self.samples_per_second * self.train_seconds
            + later.samples_per_second * later.train_seconds
        )
        return replace(
            self,
            step=self.step + shifted(later.step),
            train_loss=self.train_loss + later.train_loss,
            train_acc=self.train_acc + later.train_acc,
            val_step=self.val_step + shifted(later.val_step),
            val_loss=self.val_loss + later.val_loss,
            val_acc=self.val_acc + later.val_acc,
            val_seconds=self.val_seconds + [self.train_seconds + s for s in later.val_seconds],
            epoch_steps=self.epoch_steps + shifted(later.epoch_steps),
            robust_val_step=self.robust_val_step + shifted(later.robust_val_step),
            robust_val_acc=self.robust_val_acc + later.robust_val_acc,
            kept_step=None if later.kept_step is None else later.kept_step + offset,
            test_loss=later.test_loss,
            test_acc=later.test_acc,
            train_seconds=seconds,
            samples_per_second=samples / seconds if seconds > 0 else 0.0,
        )
