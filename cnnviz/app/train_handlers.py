"""Train tab: train the report's CNN live, or race batch norm against none (no gradio).

The handlers are generators: every :data:`UPDATE_SECONDS` they yield the curves so far
(SVG), the conv1 filters as they are now and a status line; the last yield adds a summary
(validation and test accuracy, steps, seconds). Training runs in a background thread
(:class:`cnnviz.training.live.LiveRun`), bounded in epochs and wall time; "Stop" ends it after
the current step and keeps what it learned. A finished (or stopped) model is kept for
its browser session only (:mod:`cnnviz.app.session_models`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import cache

import torch

from cnnviz.app import mnist_fetch, session_models
from cnnviz.app.curves_svg import progress_svg
from cnnviz.app.inputs import InputError, number
from cnnviz.app.pictures import kernel_picture
from cnnviz.data.idx import IDXError
from cnnviz.data.mnist import DatasetNotFoundError, Splits, load_splits
from cnnviz.data.sample_digits import load_test_digits, read_test_sample
from cnnviz.inspect.layers import conv_filters
from cnnviz.models.cnn import CNN
from cnnviz.report.presets import REPORT_TEST
from cnnviz.training.live import LiveRun, race
from cnnviz.training.loop import train
from cnnviz.training.recipe import Recipe, get_recipe

RECIPES = ("fast", "report")
MAX_EPOCHS = 3  # on the full MNIST (54,000 digits a pass)
MAX_SAMPLE_EPOCHS = 60  # on the 800 sample digits (a pass: a fraction of a second)
#: Train tab defaults, (epochs, batch size): the full MNIST, then the 800 sample digits
#: (750 steps: about 7 s of curves on 2 idle cores, measured 250 steps in 2.2 s; a run
#: worth watching, Stop reachable).
DEFAULTS = {"full": (1, 128), "sample": (30, 32)}
MAX_WALL_SECONDS = 150  # a run still going by then is stopped (and kept)
UPDATE_SECONDS = 0.4
TRAIN_THREADS = 2  # one run uses both cores; a race runs each model on one
LIVE_VAL_SIZE = 2000  # validation digits measured (the summary's val_acc too)
VALIDATE_EVERY = 9600  # training images between validations (about every 3 s)
THRESHOLD = 98.0  # validation accuracy (%) whose time each run reports
TIME_TO_THRESHOLD = f"seconds_to_{THRESHOLD:g}"  # its key in a summary
NOTHING_TO_STOP = "Nothing is training."


@cache
def live_data() -> tuple[Splits, str]:
    """The full MNIST splits if present (loaded once, shared, read-only), else the sample.

    Without the full set, the 1,000 bundled test digits are split 800 / 100 / 100: with
    the sample's defaults (30 epochs of batches of 32) a network trained on 800 digits
    reads 95 % or more of the 100 test digits (tested; 98 to 99 % in four runs on an
    AVX512-BF16 CPU), where the full MNIST gives 99 % on 10,000. Cleared when the
    background download (:mod:`cnnviz.app.mnist_fetch`) ends.
    """
    try:
        return load_splits(download=False), "the full MNIST (54,000 training digits)"
    except (DatasetNotFoundError, IDXError):
        sample = read_test_sample()
        order = torch.randperm(len(sample.y), generator=torch.Generator().manual_seed(0))
        x, y = sample.x[order], sample.y[order]
        splits = Splits(x[:800], y[:800], x[800:900], y[800:900], x[900:], y[900:])
        why = (
            "the full MNIST is downloading in the background; a later run uses it"
            if mnist_fetch.status() == mnist_fetch.FETCHING
            else "this server could not download the full MNIST"
        )
        note = (
            f"only the 1,000 digits that come with the app (800 to train on; {why}): "
            "with the defaults, 30 epochs of batches of 32, expect 95 % or more of the 100 "
            "test digits, each one a whole percent (one epoch of 128 stops far below)"
        )
        return splits, note


def max_epochs() -> int:
    """The most epochs a run may have on the data used now (a pass over 800 sample
    digits is short, one over 54,000 is not)."""
    return MAX_EPOCHS if load_test_digits().full else MAX_SAMPLE_EPOCHS


def defaults() -> tuple[int, int]:
    """The Train tab's (epochs, batch size) for the data used now (:data:`DEFAULTS`)."""
    return DEFAULTS["full" if max_epochs() == MAX_EPOCHS else "sample"]


def warm_up() -> None:
    """Train both variants for one step on 256 random images, then measure them.

    The first training step of a process builds the CPU kernels it uses (bf16,
    channels-last), which takes seconds: done at start-up, a student's first press of
    Train starts drawing curves at once.
    """
    x, y = torch.rand(384, 1, 28, 28) * 2 - 1, torch.arange(384) % 10
    tiny = Splits(x[:256], y[:256], x[256:320], y[256:320], x[320:], y[320:])
    recipe = replace(get_recipe("fast"), epochs=1, batch_size=128)
    for batchnorm in (True, False):
        train(CNN(batchnorm=batchnorm), tiny, recipe, device="cpu", progress=False)


def live_recipe(recipe: str, epochs, lr, batch_size, most: int = MAX_EPOCHS) -> Recipe:
    """The chosen recipe with the student's epochs, learning rate and batch size, bounded.

    Validation runs about every :data:`VALIDATE_EVERY` training images, on
    :data:`LIVE_VAL_SIZE` images; ``most`` bounds the epochs.
    """
    if recipe not in RECIPES:
        raise InputError(f"Unknown recipe {recipe!r}; choose from {list(RECIPES)}.")
    batch = int(number(batch_size, "The batch size", 16, 512))
    return replace(
        get_recipe(recipe),
        epochs=int(number(epochs, "The number of epochs", 1, most)),
        lr=float(number(lr, "The learning rate", 0.001, 0.5)),
        batch_size=batch,
        val_every=max(10, VALIDATE_EVERY // batch),
        val_size=LIVE_VAL_SIZE,
    )


_running: dict[str, list[LiveRun]] = {}  # session -> its runs in progress
_running_lock = threading.Lock()


def stop(session: str) -> str:
    """Stop the session's runs after their current step; a sentence saying so."""
    with _running_lock:
        runs = _running.get(session, [])
    for run in runs:
        run.stop()
    return "Stopping after this step..." if runs else NOTHING_TO_STOP


def _watch(session: str, runs: dict[str, LiveRun]) -> Iterator[None]:
    """Yield every :data:`UPDATE_SECONDS` until every run is done; stop them at the limit.

    Registers the runs for :func:`stop`; stops them if the caller goes away.
    """
    with _running_lock:
        _running[session] = list(runs.values())
    try:
        deadline = time.monotonic() + MAX_WALL_SECONDS
        while pending := [run for run in runs.values() if not run.done]:
            pending[0].wait(UPDATE_SECONDS)
            if time.monotonic() > deadline:
                for run in pending:
                    run.stop()
            yield
        for run in runs.values():
            if run.error is not None:
                raise run.error
    finally:
        for run in runs.values():
            if not run.done:
                run.stop()  # the client went away, or the time limit
        with _running_lock:
            _running.pop(session, None)


def _curves(runs: dict[str, LiveRun]) -> str:
    return progress_svg({name: list(run.reports) for name, run in runs.items()}, THRESHOLD)


def _filters(model: CNN):
    conv1 = conv_filters(model, "conv1")
    return kernel_picture(conv1.weights.reshape(4, 8, 3, 3), conv1.limit, height=120)


def _line(name: str, run: LiveRun) -> str:
    """One run's state: step, accuracies, pace and time left (or the time to threshold)."""
    if not run.reports:
        return f"{name}: starting..."
    last = run.reports[-1]
    if run.stopped:
        return f"{name}: stopping after step {last.step}, then measuring the test set..."
    measured = [p for p in run.reports if p.measured]
    val = f", validation {measured[-1].val_acc:.2f} %" if measured else ""
    reached = run.first_reaching(THRESHOLD)
    when = f"; {THRESHOLD:g} % after {reached[1]:.1f} s" if reached else ""
    return (
        f"{name}: step {last.step}/{last.total_steps} (epoch {last.epoch}/{last.epochs}), "
        f"batch accuracy {last.train_acc:.1f} %{val}; {last.samples_per_second:,.0f} "
        f"images/s, {last.seconds_left:.0f} s left{when}"
    )


def _summary(name: str, run: LiveRun, source: str) -> dict:
    history = run.history
    reached = run.first_reaching(THRESHOLD)
    return {
        "model": name,
        "data": source,
        "stopped": run.stopped,
        "steps": len(history.step),
        "train_seconds": round(history.train_seconds, 2),
        "wall_seconds": round(run.wall[-1] if run.wall else 0.0, 2),
        "val_acc": history.val_acc[-1] if history.val_acc else None,
        "test_acc": history.test_acc,
        "report_test_acc": REPORT_TEST["bn" if run.model.batchnorm else "nobn"]["accuracy"],
        TIME_TO_THRESHOLD: round(reached[1], 2) if reached else None,
    }


def train_live(recipe: str, batchnorm: bool, epochs, lr, batch_size, session: str):
    """Train one CNN live. Yields ``(curves SVG, filters, status, summary, token)``.

    ``summary`` and ``token`` (the session's new model, see
    :mod:`cnnviz.app.session_models`) are ``None`` until the last yield.
    """
    chosen = live_recipe(recipe, epochs, lr, batch_size, max_epochs())
    data, source = live_data()
    torch.manual_seed(0)
    model = CNN(batchnorm=bool(batchnorm), num_classes=data.num_classes)
    name = "batch norm" if batchnorm else "no batch norm"
    runs = {name: LiveRun.start(model, data, chosen, threads=TRAIN_THREADS)}
    for _ in _watch(session, runs):
        yield _curves(runs), _filters(model), _line(name, runs[name]), None, None
    run = runs[name]
    summary = _summary(name, run, source)
    token = session_models.keep(model, session)
    val = summary["val_acc"]
    measured = f"validation {val:.2f} %, " if val is not None else ""
    reached = summary[TIME_TO_THRESHOLD]
    when = (
        f"it reached {THRESHOLD:g} % validation after {reached} s"
        if reached is not None
        else f"it did not reach {THRESHOLD:g} % validation"
    )
    status = (
        f"{'Stopped' if run.stopped else 'Done'}: test accuracy {run.history.test_acc:.2f} % "
        f"(the report: {summary['report_test_acc']:.2f} %; {measured}{when}) after "
        f"{summary['steps']} steps, {summary['train_seconds']:.1f} s of training, on "
        f'{source}. Pick "your model" in the model switch to open its neurons or attack '
        "your drawing with it. It lives in this page only: a reload frees it."
    )
    yield _curves(runs), _filters(model), status, summary, token


def race_live(recipe: str, epochs, lr, batch_size, session: str):
    """Batch norm against none, trained at once on the same batches. Yields
    ``(curves SVG, status, summary)``; ``summary`` is ``None`` until the last yield."""
    chosen = live_recipe(recipe, epochs, lr, batch_size, max_epochs())
    data, source = live_data()
    runs = race(data, chosen, threads=1)
    for _ in _watch(session, runs):
        yield _curves(runs), "\n".join(_line(n, r) for n, r in runs.items()), None
    summary = {name: _summary(name, run, source) for name, run in runs.items()}
    lines = []
    for name, result in summary.items():
        seconds = result[TIME_TO_THRESHOLD]
        reached = (
            f"{THRESHOLD:g} % validation after {seconds} s"
            if seconds is not None
            else f"never reached {THRESHOLD:g} % validation"
        )
        lines.append(
            f"{name}: test {result['test_acc']:.2f} % (report {result['report_test_acc']} %), "
            + reached
        )
    lesson = race_lesson(
        summary["batch norm"]["test_acc"], summary["no batch norm"]["test_acc"], len(data.test_y)
    )
    text = "\n".join(lines) + f"\n\n{lesson}\n(Trained on {source}.)"
    yield _curves(runs), text, summary


def race_lesson(with_bn: float, without: float, n_test: int) -> str:
    """What a race's two test accuracies (%) on ``n_test`` digits say, with their
    uncertainty: the 95 % margin chance alone gives their difference (two binomial
    proportions, normal approximation; conservative, as both use the same digits).

    Examples
    --------
    >>> race_lesson(98.0, 96.0, 100).startswith("Batch norm ahead by 2.0 points")
    True
    >>> "cannot tell them apart" in race_lesson(98.0, 96.0, 100)
    True
    >>> "more than chance" in race_lesson(98.97, 98.45, 10_000)
    True
    """
    p, q = with_bn / 100, without / 100
    margin = 196 * math.sqrt((p * (1 - p) + q * (1 - q)) / n_test)
    gap = with_bn - without
    lead = (
        f"Batch norm ahead by {gap:.1f} points"
        if gap > 0
        else f"No batch norm ahead by {-gap:.1f} points"
        if gap < 0
        else "A tie"
    )
    verdict = (
        "more than chance would give"
        if abs(gap) > margin
        else "so this race cannot tell them apart"
    )
    report = REPORT_TEST["bn"]["accuracy"] - REPORT_TEST["nobn"]["accuracy"]
    return (
        f"{lead} on {n_test:,} test digits; chance alone moves such a gap by about "
        f"+/-{margin:.1f} points (95 %), {verdict}. The report, on the full MNIST after "
        f"10 epochs: batch norm ahead by {report:.2f} points."
    )
