"""Every number of the report beside ours: what ``cnnviz report`` prints.

:func:`compute_report` measures the shipped models on MNIST: test loss and accuracy
(R4), layer counts (R7), class images from noise (R12), the targeted attack (R13), the
learned noise and its transfer (R14), a universal perturbation and the accuracy under
FGSM and PGD. Attacks run on seeded subsets of the test set (sizes in ``settings``) and
in one thread, so the whole report takes about a minute or less on a 2-core CPU; any
subset of the ``SECTIONS`` can be computed alone. The report's own numbers are
constants here, so one JSON holds both and the docs render from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch

from cnnviz.attacks.evaluation import accuracy_under_attack
from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.targeted import all_pairs, targeted_attack
from cnnviz.attacks.transfer import fooling_rates, noise_attack
from cnnviz.attacks.universal import (
    UniversalPerturbation,
    universal_fooling_rate,
    universal_perturbation,
)
from cnnviz.data.mnist import Splits
from cnnviz.data.sample_digits import PICK_SEED
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN
from cnnviz.models.summary import layer_summary, totals
from cnnviz.report.digits import _data_key, report_digits
from cnnviz.report.presets import (
    REPORT_CLASS_VISUALISATION,
    REPORT_NEURONS,
    REPORT_NOISE_ATTACK,
    REPORT_PARAMETERS,
    REPORT_TEST,
    REPORT_TRANSFER_LABELS,
    REPORT_TRANSFER_TABLE,
    REPORT_TRANSFER_TARGETS,
    UNIVERSAL_SETTINGS,
    VARIANTS,
)
from cnnviz.training.evaluation import evaluate
from cnnviz.visualise.class_images import CLASS_VISUALISATION_MAX_STEPS, class_visualisation


def report_transfer_rates() -> torch.Tensor:
    """``(10,)`` fooling rate of each row of the report's table (same rule as ours).

    Row ``k`` of ``REPORT_TRANSFER_TABLE`` is scored only on the images not already
    of class ``k + 1`` (mod 10), as :func:`cnnviz.attacks.transfer.fooling_rates` does.

    Examples
    --------
    The noise towards 2 fooled 8 of 10 images; the one towards 8, 6 of the 9 that were
    not already 8:

    >>> [round(rate, 2) for rate in report_transfer_rates().tolist()]
    [0.5, 0.8, 0.12, 0.2, 0.22, 0.0, 0.11, 0.67, 0.12, 0.22]
    """
    return fooling_rates(
        torch.tensor(REPORT_TRANSFER_TABLE),
        torch.tensor(REPORT_TRANSFER_TARGETS),
        torch.tensor(REPORT_TRANSFER_LABELS),
    )


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads, then restore the previous number.

    The report's batches are small (10-100 digits): a second thread barely helps them
    and, on a CPU shared with other work, made the report three to six times slower
    (51 s with one thread, 139-308 s with two, measured on the 2-core reference
    machine under load).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _linearity(result: AttackResult) -> float:
    """Smallest R^2 of a straight-line fit to a class's logit against its steps.

    Measures the report's "the cost rises linearly" (1 = a straight line); classes that
    took fewer than 3 steps have no line to fit and are skipped (``nan`` if all did).
    """
    scores = []
    for column, steps in enumerate(result.steps.tolist()):
        if steps < 2:
            continue
        y = result.logit_history[: steps + 1, column].double()
        x = torch.arange(steps + 1, dtype=torch.float64)
        slope = ((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).pow(2).sum()
        residual = y - y.mean() - slope * (x - x.mean())
        scores.append(1 - float(residual.pow(2).sum() / (y - y.mean()).pow(2).sum()))
    return min(scores) if scores else float("nan")


def _ascent_summary(result: AttackResult) -> dict[str, object]:
    """Successes, steps and probabilities of a batch of gradient-ascent runs."""
    return {
        "reached": int(result.success.sum()),
        "of": len(result.success),
        "steps": result.steps.tolist(),
        "max_steps_taken": int(result.steps.max()),
        "probabilities": [round(p, 4) for p in result.probabilities.tolist()],
        "cost_linearity_r2": round(_linearity(result), 3),
    }


def _pixel_sizes(result: AttackResult, counted: torch.Tensor | None = None) -> dict[str, float]:
    """Mean L-infinity and L2 size of the perturbations (of the ``counted`` ones), pixel units."""
    linf, l2 = result.perturbation_size()
    if counted is not None:
        linf, l2 = linf[counted], l2[counted]
    return {"linf": round(float(linf.mean()), 3), "l2": round(float(l2.mean()), 3)}


def _test_set_section(models: dict[str, CNN], data: Splits) -> dict[str, object]:
    """R4: test loss and accuracy of each model on the full test set."""
    section = {}
    for name, model in models.items():
        loss, accuracy = evaluate(model, data.test_x, data.test_y)
        section[name] = {
            "report": REPORT_TEST[name],
            "ours": {"loss": round(loss, 4), "accuracy": round(accuracy, 2)},
        }
    return section


def _layers_section() -> dict[str, object]:
    """R7: parameters and neurons per layer and in total (the report's and ours)."""
    rows = layer_summary(CNN(batchnorm=False))
    by_name = {row.name: row for row in rows}
    report_totals = {
        "conv_parameters": REPORT_PARAMETERS["conv1"] + REPORT_PARAMETERS["conv2"],
        "fc_parameters": REPORT_PARAMETERS["fc1"] + REPORT_PARAMETERS["fc2"],
        "conv_neurons": REPORT_NEURONS["conv1"] + REPORT_NEURONS["conv2"],
        "fc_neurons": REPORT_NEURONS["fc1"] + REPORT_NEURONS["fc2"],
    }
    return {
        "parameters": {
            name: {"report": REPORT_PARAMETERS[name], "ours": by_name[name].parameters}
            for name in REPORT_PARAMETERS
        },
        "neurons": {
            name: {"report": REPORT_NEURONS[name], "ours": by_name[name].neurons}
            for name in REPORT_NEURONS
        },
        "totals": {
            key: {"report": report_totals[key], "ours": value}
            for key, value in totals(rows).items()
        },
    }


def _class_section(models: dict[str, CNN]) -> dict[str, object]:
    """R12: class images from noise with the library's defaults and the report's steps."""
    section: dict[str, object] = {
        "report": {"reached": 10, "of": 10, "note": "no step cap; 'the cost rises linearly'"},
        "max_steps": CLASS_VISUALISATION_MAX_STEPS,
    }
    for name, model in models.items():
        section[name] = {
            "ours": _ascent_summary(class_visualisation(model)),
            "report_procedure": _ascent_summary(
                class_visualisation(
                    model, **REPORT_CLASS_VISUALISATION, steps=CLASS_VISUALISATION_MAX_STEPS
                )
            ),
        }
    return section


def _targeted_section(models: dict[str, CNN], examples: torch.Tensor) -> dict[str, object]:
    """R13: every (source, target) pair of one test digit per class, p >= 0.9."""
    images, targets = all_pairs(examples)
    moved = targets != torch.arange(len(examples)).repeat_interleave(10)  # source = class
    section: dict[str, object] = {"report": {"success_rate": 1.0, "note": "all 100 pairs"}}
    for name, model in models.items():
        result = targeted_attack(model, images, targets)
        section[name] = {
            "success_rate": round(float(result.success.float().mean()), 3),
            "max_steps_taken": int(result.steps.max()),
            "perturbation": _pixel_sizes(result, moved),
        }
    return section


def _transfer_section(
    models: dict[str, CNN], data: Splits, examples: torch.Tensor, unseen: torch.Tensor
) -> dict[str, object]:
    """R14: noise learned on one digit per class towards ``digit + 1``, added to unseen digits."""
    report_rates = report_transfer_rates()
    section: dict[str, object] = {
        "report": {
            "mean_fooling_rate": round(float(report_rates.mean()), 3),
            "fooling_rate": [round(r, 3) for r in report_rates.tolist()],
            "images": len(REPORT_TRANSFER_LABELS),
        }
    }
    targets = (torch.arange(10) + 1) % 10
    others, labels = data.test_x[unseen], data.test_y[unseen]
    for name, model in models.items():
        runs = {}
        for procedure, options in (("report_procedure", REPORT_NOISE_ATTACK), ("ours", {})):
            transfer = noise_attack(
                model, examples, targets, others=others, other_labels=labels, **options
            )
            runs[procedure] = {
                "reached": int(transfer.attack.success.sum()),
                "mean_fooling_rate": round(float(transfer.fooling_rate.mean()), 3),
                "fooling_rate": [round(r, 3) for r in transfer.fooling_rate.tolist()],
                "noise": _pixel_sizes(transfer.attack),
            }
        section[name] = runs
    return section


#: Results computed once per process: a page that shows a number of the report and the
#: report's table itself (both built in one docs build) then show the same number.
_MEMO: dict[tuple, object] = {}


def report_universal(
    variant: str, data: Splits, *, unseen_digits: int = 200, universal_digits: int = 1000
) -> tuple[UniversalPerturbation, float]:
    """The report's universal perturbation for a shipped model, and its fooling rate.

    Learned with ``UNIVERSAL_SETTINGS`` on the ``learn`` digits of
    :func:`~cnnviz.report.digits.report_digits` and measured on its ``unseen`` test
    digits, in one thread; computed once per process and dataset, then returned from
    memory, so the gallery and :func:`compute_report` show the same perturbation and the
    same rate.

    Parameters
    ----------
    variant
        ``"nobn"`` or ``"bn"`` (the shipped models).
    data
        MNIST splits.
    unseen_digits, universal_digits
        As :func:`compute_report`.

    Returns
    -------
    perturbation, rate
        The :class:`~cnnviz.attacks.universal.UniversalPerturbation` and the share, in [0, 1], of
        the unseen digits not of the target class that it makes read as the target.

    Examples
    --------
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.rand(60, 1, 28, 28) * 2 - 1, torch.arange(60) % 10
    >>> data = Splits(x, y, x, y, x, y)
    >>> first = report_universal("nobn", data, unseen_digits=20, universal_digits=30)
    >>> first is report_universal("nobn", data, unseen_digits=20, universal_digits=30)
    True
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, not {variant!r}")
    key = ("universal", variant, _data_key(data), unseen_digits, universal_digits)
    if key not in _MEMO:
        digits = report_digits(data, unseen_digits=unseen_digits, universal_digits=universal_digits)
        model = pretrained(batchnorm=VARIANTS[variant])
        with _torch_threads(1):
            universal = universal_perturbation(
                model,
                data.train_x[digits.learn],
                data.train_y[digits.learn],
                seed=PICK_SEED,
                **UNIVERSAL_SETTINGS,
            )
            unseen_x, unseen_y = data.test_x[digits.unseen], data.test_y[digits.unseen]
            rate = universal_fooling_rate(model, universal, unseen_x, unseen_y)
        _MEMO[key] = (universal, rate)
    return _MEMO[key]


def _universal_section(
    data: Splits, unseen_digits: int, universal_digits: int
) -> dict[str, object]:
    """A universal perturbation learned on training digits, measured on unseen test digits."""
    section: dict[str, object] = {"report": None, "settings": dict(UNIVERSAL_SETTINGS)}
    for name in VARIANTS:
        universal, rate = report_universal(
            name, data, unseen_digits=unseen_digits, universal_digits=universal_digits
        )
        section[name] = {
            "fooling_rate_unseen": round(rate, 3),
            "perturbation": {key: round(value, 3) for key, value in universal.sizes().items()},
        }
    return section


def _robustness_section(
    models: dict[str, CNN], data: Splits, attacked: torch.Tensor, epsilons: tuple[float, ...]
) -> dict[str, object]:
    """Accuracy (%) under FGSM and PGD-20 at each epsilon (beyond the report)."""
    x, y = data.test_x[attacked], data.test_y[attacked]
    section: dict[str, object] = {"report": None, "epsilons": list(epsilons)}
    for name, model in models.items():
        section[name] = {
            "fgsm": [round(a, 1) for a in accuracy_under_attack(model, x, y, epsilons).tolist()],
            "pgd20": [
                round(a, 1)
                for a in accuracy_under_attack(
                    model, x, y, epsilons, attack="pgd", steps=20
                ).tolist()
            ],
        }
    return section


#: The report's sections, in the order :func:`compute_report` measures and
#: prints them.
SECTIONS = (
    "test",
    "layers",
    "class_visualisation",
    "targeted_attack",
    "noise_transfer",
    "universal",
    "robustness",
)


def compute_report(
    data: Splits,
    *,
    sections: Sequence[str] = SECTIONS,
    unseen_digits: int = 200,
    universal_digits: int = 1000,
    attack_digits: int = 100,
    epsilons: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3),
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Every number of the report beside ours, as a JSON-ready dict.

    Parameters
    ----------
    data
        MNIST splits (the full test set gives R4; attacks use seeded subsets). The test
        set needs a digit of every class.
    sections
        Which of ``SECTIONS`` to compute (all by default, about a minute on a 2-core
        CPU; ``"layers"`` alone takes well under a second).
    unseen_digits
        Test digits (never the ten noise bases) the learned and universal noises are
        added to.
    universal_digits
        Training digits the universal perturbation is learned on.
    attack_digits
        Test digits attacked with FGSM and PGD.
    epsilons
        FGSM/PGD budgets, pixel units.
    progress
        Called with each section's name once it is computed.

    Returns
    -------
    dict
        The requested sections among ``test``, ``layers``, ``class_visualisation``,
        ``targeted_attack``, ``noise_transfer``, ``universal``, ``robustness``, each
        with the report's value (``report``; ``None`` where the report has none) beside
        ours per model (``nobn``, ``bn``), plus ``settings`` (subset sizes) and
        ``seconds`` per section.

    Raises
    ------
    ValueError
        If a name in ``sections`` is not one of ``SECTIONS``.

    Examples
    --------
    The layer counts (R7) need no data beyond one test digit per class:

    >>> import torch
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    >>> report = compute_report(Splits(x, y, x, y, x, y), sections=["layers"])
    >>> report["layers"]["parameters"]["fc1"]
    {'report': 784500, 'ours': 784500}
    >>> list(report["seconds"])
    ['layers']
    """
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; choose from {list(SECTIONS)}")
    models = {name: pretrained(batchnorm=bn) for name, bn in VARIANTS.items()}
    digits = report_digits(
        data,
        unseen_digits=unseen_digits,
        universal_digits=universal_digits,
        attack_digits=attack_digits,
    )
    examples = data.test_x[digits.bases]
    unseen, attacked, learn = digits.unseen, digits.attacked, digits.learn
    makers: dict[str, Callable[[], dict[str, object]]] = {
        "test": lambda: _test_set_section(models, data),
        "layers": _layers_section,
        "class_visualisation": lambda: _class_section(models),
        "targeted_attack": lambda: _targeted_section(models, examples),
        "noise_transfer": lambda: _transfer_section(models, data, examples, unseen),
        "universal": lambda: _universal_section(data, unseen_digits, universal_digits),
        "robustness": lambda: _robustness_section(models, data, attacked, epsilons),
    }
    report: dict[str, object] = {
        "settings": {
            "test_digits": len(data.test_x),
            "unseen_digits": len(unseen),
            "universal_learned_on_training_digits": len(learn),
            "attack_digits": len(attacked),
            "seed": PICK_SEED,
        }
    }
    seconds = {}
    sizes = (_data_key(data), unseen_digits, universal_digits, attack_digits, tuple(epsilons))
    with _torch_threads(1):
        for name in SECTIONS:
            if name not in sections:
                continue
            started = time.perf_counter()
            if (name, *sizes) not in _MEMO:
                _MEMO[(name, *sizes)] = makers[name]()
            report[name] = _MEMO[(name, *sizes)]
            seconds[name] = round(time.perf_counter() - started, 1)
            if progress is not None:
                progress(name)
    report["seconds"] = seconds
    return report


def fgsm_disagreements(
    curves: dict[str, torch.Tensor], epsilons: Sequence[float], data: Splits
) -> list[str]:
    """Where a page's FGSM accuracies differ from the report's robustness section.

    ``curves`` as :func:`cnnviz.attacks.evaluation.robustness_curves` returns them for the
    shipped models named ``"no batch norm"`` and ``"batch norm"``, measured on the
    ``attacked`` digits of :func:`~cnnviz.report.digits.report_digits` at ``epsilons``; at
    every budget the report also measures, each rounded accuracy must equal the report's
    (computed once per process, see :func:`compute_report`).

    Returns
    -------
    list of str
        One sentence per disagreement; empty when the page and the report agree.

    Examples
    --------
    >>> from cnnviz.data.mnist import Splits
    >>> x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    >>> fgsm_disagreements({}, [0.5], Splits(x, y, x, y, x, y))  # no budget in common
    []
    """
    shared = [eps for eps in (0.0, 0.1, 0.2, 0.3) if eps in epsilons]
    if not shared:
        return []
    report = compute_report(data, sections=["robustness"])["robustness"]
    found = []
    for variant, name in (("nobn", "no batch norm"), ("bn", "batch norm")):
        for eps in shared:
            ours = round(float(curves[f"{name}, FGSM"][list(epsilons).index(eps)]), 1)
            theirs = report[variant]["fgsm"][report["epsilons"].index(eps)]
            if ours != theirs:
                found.append(f"FGSM at {eps} on {name}: {ours} % here, {theirs} % in the report")
    return found
