"""The digits the report's numbers are measured on: seeded subsets of MNIST, named once.

:func:`report_digits` draws them with ``PICK_SEED``, so ``cnnviz report``, the docs'
"Reproducing the report" and every gallery page that shows one of its numbers measure on
the same digits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from cnnviz.data.mnist import Splits, first_per_class
from cnnviz.data.sample_digits import PICK_SEED


@dataclass(frozen=True)
class ReportDigits:
    """The seeded digit subsets the report's numbers are measured on.

    Attributes
    ----------
    bases
        ``(10,)`` test indices: the first test digit of each class (the noises' bases).
    unseen
        Test indices, never a base, that learned and universal noises are added to.
    attacked
        Test indices, after ``unseen``, attacked with FGSM and PGD.
    learn
        Training indices the universal perturbation is learned on.

    Examples
    --------
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(40, 1, 28, 28), torch.arange(40) % 10
    >>> digits = report_digits(Splits(x, y, x, y, x, y), unseen_digits=5, attack_digits=3)
    >>> len(digits.bases), len(digits.unseen), len(digits.attacked), len(digits.learn)
    (10, 5, 3, 40)
    """

    bases: torch.Tensor
    unseen: torch.Tensor
    attacked: torch.Tensor
    learn: torch.Tensor


def report_digits(
    data: Splits,
    *,
    unseen_digits: int = 200,
    universal_digits: int = 1000,
    attack_digits: int = 100,
) -> ReportDigits:
    """The digits ``cnnviz report`` measures on, drawn with ``PICK_SEED``.

    A gallery page that shows one of the report's numbers measures it on these digits
    (or reads it from :func:`~cnnviz.report.numbers.compute_report`), so the page and
    "Reproducing the report" agree. Sizes as :func:`~cnnviz.report.numbers.compute_report`'s
    parameters; see :class:`ReportDigits`.

    Examples
    --------
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(30, 1, 28, 28), torch.arange(30) % 10
    >>> data = Splits(x, y, x, y, x, y)
    >>> report_digits(data).unseen.tolist() == report_digits(data).unseen.tolist()
    True
    """
    bases = first_per_class(data.test_y)
    generator = torch.Generator().manual_seed(PICK_SEED)
    order = torch.randperm(len(data.test_x), generator=generator)
    order = order[~torch.isin(order, bases)]
    unseen, attacked = order[:unseen_digits], order[unseen_digits : unseen_digits + attack_digits]
    learn = torch.randperm(len(data.train_x), generator=generator)[:universal_digits]
    return ReportDigits(bases=bases, unseen=unseen, attacked=attacked, learn=learn)


def _data_key(data: Splits) -> str:
    """A short name for a dataset: its shapes, all labels and every 997th training image."""
    digest = hashlib.sha256()
    for tensor in (data.train_y, data.val_y, data.test_y, data.train_x[::997]):
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
