"""The report's numbers beside ours as rows of a table, and as the text ``cnnviz report`` prints."""

from __future__ import annotations

from collections.abc import Callable

from cnnviz.report.numbers import SECTIONS
from cnnviz.report.presets import VARIANTS

Row = tuple[str, str, str, str]


def _percent(rate: float) -> str:
    """A fraction as a whole percentage."""
    return f"{100 * rate:.0f} %"


def _both(describe: Callable[[str], str]) -> tuple[str, str]:
    """``describe(model name)`` for the no-batch-norm and the batch-norm model."""
    return describe("nobn"), describe("bn")


def _test_rows(test: dict) -> list[Row]:
    """R4: test accuracy and loss."""
    return [
        (
            "test accuracy (R4)",
            "{} % / {} % (no BN / BN)".format(*(test[n]["report"]["accuracy"] for n in VARIANTS)),
            *_both(lambda n: f"{test[n]['ours']['accuracy']:.2f} %"),
        ),
        (
            "test loss (R4)",
            "{} / {}".format(*(test[n]["report"]["loss"] for n in VARIANTS)),
            *_both(lambda n: f"{test[n]['ours']['loss']:.4f}"),
        ),
    ]


def _layers_rows(layers: dict) -> list[Row]:
    """R7: parameters and neurons per layer, then the totals (same for both models)."""
    rows = []
    for group in ("parameters", "neurons"):
        for key, counts in layers[group].items():
            rows.append(
                (f"{group} of {key} (R7)", str(counts["report"]), *[str(counts["ours"])] * 2)
            )
    for key, counts in layers["totals"].items():
        rows.append(
            (key.replace("_", " ") + " (R7)", str(counts["report"]), *[str(counts["ours"])] * 2)
        )
    return rows


def _class_rows(classes: dict) -> list[Row]:
    """R12: class images from noise, the report's procedure and the cost's linearity."""
    return [
        (
            f"class images at p >= 0.99, step cap {classes['max_steps']} (R12)",
            "10 of 10 (no cap)",
            *_both(
                lambda n: "{reached} of 10, <= {max_steps_taken} steps".format(
                    **classes[n]["ours"]
                ),
            ),
        ),
        (
            "  the report's steps (0.1 x gradient of the logit), same cap",
            "10 of 10",
            *_both(lambda n: "{reached} of 10".format(**classes[n]["report_procedure"])),
        ),
        (
            "  cost against steps: worst R^2 of a straight line",
            "'rises linearly'",
            *_both(lambda n: f"{classes[n]['ours']['cost_linearity_r2']:.2f}"),
        ),
    ]


def _targeted_rows(targeted: dict) -> list[Row]:
    """R13: the targeted attack's success rate and perturbation size."""
    return [
        (
            "targeted attack: pairs reaching p >= 0.9 (R13)",
            _percent(targeted["report"]["success_rate"]),
            *_both(lambda n: _percent(targeted[n]["success_rate"])),
        ),
        (
            "  mean perturbation, L-inf / L2 (pixels of [0, 1])",
            "-",
            *_both(lambda n: "{linf:.2f} / {l2:.2f}".format(**targeted[n]["perturbation"])),
        ),
    ]


def _transfer_rows(transfer: dict) -> list[Row]:
    """R14: how often the learned noise fools other digits, both procedures."""
    return [
        (
            "learned noise fools other digits (R14), the report's procedure",
            f"{_percent(transfer['report']['mean_fooling_rate'])} (of 10 images)",
            *_both(lambda n: _percent(transfer[n]["report_procedure"]["mean_fooling_rate"])),
        ),
        (
            "  cnnviz's procedure (x + n clipped, stop at p >= 0.99)",
            "-",
            *_both(lambda n: _percent(transfer[n]["ours"]["mean_fooling_rate"])),
        ),
    ]


def _universal_rows(universal: dict) -> list[Row]:
    """The universal perturbation's fooling rate on unseen digits."""
    return [
        (
            "universal noise -> {target}, L-inf {eps}: fools unseen digits".format(
                **universal["settings"]
            ),
            "-",
            *_both(lambda n: _percent(universal[n]["fooling_rate_unseen"])),
        )
    ]


def _robustness_rows(robustness: dict) -> list[Row]:
    """Accuracy under FGSM and PGD-20, one row per epsilon."""
    return [
        (
            f"accuracy under FGSM / PGD-20 at eps {eps}",
            "-",
            *_both(
                lambda n, i=index: "{:.0f} / {:.0f} %".format(
                    robustness[n]["fgsm"][i], robustness[n]["pgd20"][i]
                ),
            ),
        )
        for index, eps in enumerate(robustness["epsilons"])
    ]


_ROWS: dict[str, Callable[[dict], list[Row]]] = {
    "test": _test_rows,
    "layers": _layers_rows,
    "class_visualisation": _class_rows,
    "targeted_attack": _targeted_rows,
    "noise_transfer": _transfer_rows,
    "universal": _universal_rows,
    "robustness": _robustness_rows,
}


def report_rows(report: dict) -> list[Row]:
    """:func:`~cnnviz.report.numbers.compute_report`'s numbers as table rows.

    Parameters
    ----------
    report
        From :func:`~cnnviz.report.numbers.compute_report` (or its JSON); rows are made for the
        sections it has, in the order of ``SECTIONS``.

    Returns
    -------
    list of tuple
        ``(quantity, the report's value, ours without batch norm, ours with batch
        norm)``; "-" where the report has no such number.

    Examples
    --------
    >>> import torch
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    >>> from cnnviz.report.numbers import compute_report
    >>> rows = report_rows(compute_report(Splits(x, y, x, y, x, y), sections=["layers"]))
    >>> rows[0]
    ('parameters of conv1 (R7)', '320', '320', '320')
    """
    return [row for name in SECTIONS if name in report for row in _ROWS[name](report[name])]


def subsets_sentence(report: dict) -> str:
    """Which digits each number was measured on, as one sentence.

    Parameters
    ----------
    report
        From :func:`~cnnviz.report.numbers.compute_report`; only its ``settings`` are read.

    Examples
    --------
    >>> import torch
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(30, 1, 28, 28), torch.arange(30) % 10
    >>> from cnnviz.report.numbers import compute_report
    >>> report = compute_report(Splits(x, y, x, y, x, y), sections=["layers"], attack_digits=5)
    >>> print(subsets_sentence(report))  # doctest: +NORMALIZE_WHITESPACE
    Test loss and accuracy on all 30 test digits; the learned and the universal noises
    are added to 20 test digits they were not learned on; the universal noise is learned
    on 30 training digits; FGSM/PGD on 0 test digits (seed 2019).
    """
    s = report["settings"]
    return (
        f"Test loss and accuracy on all {s['test_digits']} test digits; the learned and the "
        f"universal noises are added to {s['unseen_digits']} test digits they were not "
        "learned on; the universal noise is learned on "
        f"{s['universal_learned_on_training_digits']} training digits; "
        f"FGSM/PGD on {s['attack_digits']} test digits (seed {s['seed']})."
    )


def format_report(report: dict) -> str:
    """:func:`~cnnviz.report.numbers.compute_report`'s numbers as a plain-text table.

    One row per :func:`report_rows` row, columns padded to align, then
    ``subsets_sentence(report)``.

    Examples
    --------
    >>> import torch
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    >>> from cnnviz.report.numbers import compute_report
    >>> text = format_report(compute_report(Splits(x, y, x, y, x, y), sections=["layers"]))
    >>> print("\\n".join(text.splitlines()[:3]))
    quantity                  report  cnnviz, no BN  cnnviz, BN
    parameters of conv1 (R7)  320     320            320
    parameters of conv2 (R7)  9248    9248           9248
    """
    rows = [("quantity", "report", "cnnviz, no BN", "cnnviz, BN"), *report_rows(report)]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, subsets_sentence(report)])
