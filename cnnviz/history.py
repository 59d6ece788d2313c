"""The record of a training run: what :func:`cnnviz.training.train` measured, as JSON.

Its own module so that :mod:`cnnviz.checkpoint` (which stores histories beside weights)
and :mod:`cnnviz.training` (which writes them) both use it without importing each other.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
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
